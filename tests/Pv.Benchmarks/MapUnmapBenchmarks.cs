// Target 3: map + unmap of one 4 KiB page, no TLB flush, costs <= 300 ns.
// Engine level, into a PTE table that already exists:
//   MapUnmap         - PhysicalMemory.Alloc a data frame, PageTables.Write its PTE, PageTables.Write the empty PTE,
//                      PhysicalMemory.Free the frame (LIFO free list: the next Alloc reuses it, generation bumped).
//   PopulateUnmap    - the same with PageTables.Populate (walks PGD..PMD via EnsureTable) instead of a direct Write.
//   AllocFreeOnly    - the frame allocator alone, for reference.
using BenchmarkDotNet.Attributes;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Memory;

namespace Pv.Benchmarks;

[MemoryDiagnoser]
public class MapUnmapBenchmarks
{
    private const ulong Address = 0x7f12_3456_7000UL;

    private Machine _m = null!;
    private MmId _mm;
    private PteSlot _slot;

    [GlobalSetup]
    public void Setup()
    {
        _m = new Machine(new MachineOptions());
        var mm = _m.CreateMm();
        _mm = mm.Id;
        // The PTE table exists (as after an earlier fault in the same 2 MiB), the entry itself is empty.
        _slot = _m.PageTables.EnsureTable(_mm, Address, PageTableLevel.Pte);
        BenchMachines.Check(_m.PageTables.Read(_slot).IsNone, "the PTE starts empty");
        MapUnmap();
        BenchMachines.Check(_m.PageTables.Read(_slot).IsNone && _m.Memory.FreeFrames == 1, "map+unmap leaves the PTE empty and the frame free");
    }

    [Benchmark(Baseline = true)]
    public Pfn MapUnmap()
    {
        var mem = _m.Memory;
        var pt = _m.PageTables;
        var pfn = mem.Alloc(AllocSite.DataPage, FrameKind.DataPage);
        pt.Write(_slot, PageTableEntry.Make(pfn, BenchMachines.UserRw));
        pt.Write(_slot, PageTableEntry.Empty);
        mem.Free(pfn);
        return pfn;
    }

    [Benchmark]
    public Pfn PopulateUnmap()
    {
        var mem = _m.Memory;
        var pt = _m.PageTables;
        var pfn = mem.Alloc(AllocSite.DataPage, FrameKind.DataPage);
        var slot = pt.Populate(_mm, Address, PageTableEntry.Make(pfn, BenchMachines.UserRw));
        pt.Write(slot, PageTableEntry.Empty);
        mem.Free(pfn);
        return pfn;
    }

    [Benchmark]
    public Pfn AllocFreeOnly()
    {
        var pfn = _m.Memory.Alloc(AllocSite.DataPage, FrameKind.DataPage);
        _m.Memory.Free(pfn);
        return pfn;
    }
}
