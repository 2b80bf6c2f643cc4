// Test helpers: a small machine with one user mm and mapped pages, and a test-double flush backend that
// uses only the host services a real plugin would (waited IPIs, or a hypercall that does not wait).
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Cpu;
using Pv.Engine.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Tests;

internal sealed class TestMachine
{
    public const ulong Va = 0x7f00_0000_0000;
    public const PteFlags UserRw = PteFlags.Present | PteFlags.Write | PteFlags.User | PteFlags.Accessed | PteFlags.Dirty;

    public TestMachine(int cpus = 2, int levels = 4, bool strictO3 = false, FlushMode mode = FlushMode.WaitedIpi, MmuGatherConfig? gather = null,
        bool pfnmapForceFlush = true, int maxGatherBatch = 510)
    {
        M = new Machine(new MachineOptions
        {
            Cpus = cpus, PagingLevels = levels, StrictO3 = strictO3,
            PfnmapForceFlush = pfnmapForceFlush, MaxGatherBatch = maxGatherBatch,
        });
        Backend = new TestBackend(M, mode, gather);
        M.AttachBackend(Backend, Backend);
        Mm = M.CreateMm();
        for (int c = 0; c < cpus; c++) M.Cpus[c].LoadMm(Mm.Id);
    }

    public Machine M { get; }
    public TestBackend Backend { get; }
    public MmStruct Mm { get; }

    /// <summary>Map a fresh data page at <paramref name="va"/>; returns it and the PTE slot.</summary>
    public (Pfn Page, PteSlot Slot) Map(ulong va = Va, PteFlags flags = UserRw, FrameKind kind = FrameKind.DataPage)
    {
        var page = M.Memory.Alloc(kind);
        var slot = M.PageTables.Populate(Mm.Id, va, PageTableEntry.Make(page, flags));
        return (page, slot);
    }

    public SimThread Thread(string name, int cpu, params Func<SimThread, IEnumerable<Step>>[] ops)
    {
        var t = M.AddThread(name, ThreadKind.User, cpu, Mm);
        foreach (var op in ops) t.Enqueue(op(t));
        return t;
    }

    /// <summary>An access as an operation.</summary>
    public IEnumerable<Step> Access(SimThread t, ulong va, AccessKind kind, AccessResult? result = null) =>
        Mmu.Access(M, t.Cpu!, va, kind, result ?? new AccessResult());

    /// <summary>Run a single action as one step.</summary>
    public static IEnumerable<Step> Do(Action a)
    {
        a();
        yield return Step.Yield;
    }

    public RunResult RunSequential() => M.Run(new SequentialPolicy());
}

/// <summary>How the test-double backend flushes remote TLBs.</summary>
internal enum FlushMode { WaitedIpi, Hypercall }

/// <summary>
/// A test-double backend built only on host services, as a plugin would be: flush_tlb_mm_range by waited IPIs
/// or by a hypercall that does not wait, tables handed to the generic gather, every call logged in order.
/// </summary>
internal sealed class TestBackend(Machine m, FlushMode mode, MmuGatherConfig? config = null) : IArchMmu, IPvMmuOps
{
    /// <summary>Calls in order, in kernel names.</summary>
    public List<string> Calls { get; } = [];

    /// <summary>What <see cref="TlbRemoveTable"/> does: false = tlb_remove_page (bare metal before 6.15).</summary>
    public bool RemoveTableThroughGather { get; set; } = true;

    public MmuGatherConfig GatherConfig { get; } = config ?? ArchProfiles.X86V615;

    public void FlushTlbMmRange(MmId mm, ulong start, ulong end, int strideShift, bool freedTables)
    {
        Calls.Add(end == TlbFlushInfo.FullMm ? $"flush_tlb_mm{(freedTables ? " freed_tables" : "")}" : $"flush_tlb_range {start:x}-{end:x}{(freedTables ? " freed_tables" : "")}");
        var inv = end == TlbFlushInfo.FullMm ? TlbInvalidation.Asid(mm) : TlbInvalidation.Range(mm, start, end, strideShift, freedTables);
        var others = m.Cpus.MmCpumask(mm).Without(m.CurrentCpu.Id);
        m.CurrentCpu.Invalidate(inv);
        if (!others.IsEmpty)
        {
            if (mode == FlushMode.WaitedIpi) m.Ipi.SendIpi(others, cpu => cpu.Invalidate(inv), wait: true);
            else m.Hypervisor.Issue(new Hypercall(HypercallCommand.TlbFlushMulti, others, inv));
        }
        m.Notifiers.ArchInvalidateSecondaryTlbs(mm, start, end);
    }

    public void FlushTlbKernelRange(ulong start, ulong end)
    {
        Calls.Add($"flush_tlb_kernel_range {start:x}-{end:x}");
        var inv = TlbInvalidation.Range(MmId.InitMm, start, end);
        m.CurrentCpu.Invalidate(inv);
        m.Ipi.SendIpi(m.Cpus.Online.Without(m.CurrentCpu.Id), cpu => cpu.Invalidate(inv), wait: true);
    }

    public void FlushCacheRange(MmId mm, ulong start, ulong end) => Calls.Add($"flush_cache_range {start:x}-{end:x}");
    public void UpdateMmuCache(MmId mm, ulong address, PteSlot slot) => Calls.Add($"update_mmu_cache {address:x}");
    public void SetPtes(MmId mm, ulong address, PteSlot slot, PageTableEntry entry, int count) => Calls.Add($"set_ptes {address:x}");
    public void PtepSetAccessFlags(MmId mm, ulong address, PageTableEntry oldEntry, PageTableEntry newEntry, bool dirty) => Calls.Add($"ptep_set_access_flags {address:x}");

    public void FlushTlbUser() => m.CurrentCpu.Invalidate(TlbInvalidation.Asid(m.CurrentCpu.LoadedMm));
    public void FlushTlbKernel() => m.CurrentCpu.Invalidate(TlbInvalidation.All);
    public void FlushTlbOneUser(ulong address) => m.CurrentCpu.Invalidate(TlbInvalidation.Page(m.CurrentCpu.LoadedMm, address));
    public void FlushTlbMulti(CpuMask cpus, in TlbFlushInfo info) => FlushTlbMmRange(info.Mm, info.Start, info.End, info.StrideShift, info.FreedTables);

    public void TlbRemoveTable(IMmuGather tlb, Pfn table)
    {
        Calls.Add("tlb_remove_table");
        if (RemoveTableThroughGather) tlb.RemoveTable(table);
        else tlb.RemovePage(table);
    }

    public void SwitchMm(MmId prev, MmId next) => m.CurrentCpu.LoadMm(next);
    public void AllocPte(MmId mm, Pfn table) => Calls.Add("alloc_pte");
    public void ReleasePte(Pfn table) => Calls.Add("release_pte");
}
