// Target 2: a 4-level hardware walk on a TLB miss costs <= 200 ns.
// Each operation drives Mmu.Walk (iterator, one page-table level per step) to its end on a populated 4-level mm.
//   Walk4Level_WalkCacheThrashed - 64 addresses in 64 distinct 512 GiB regions, cycled: the 16-entry-per-level
//                                  FIFO walk cache never hits, so every walk looks it up, reads P4D, PUD, PMD and
//                                  PTE, and fills it (set-up checks: 4 steps, leaf at PTE, no walk-cache hit).
//   Walk4Level_NoWalkCache       - the same with WalkCacheEntries = 0: the walk alone.
//   Walk4Level_FlushAllFirst     - one address; WalkCache.FlushAll() before every walk (includes the flush).
//   FlushAllOnly                 - the flush by itself, to subtract from the previous line.
//   Walk1Level_PteWalkCacheHit   - one address, walk cache warm: the walk starts at the cached PTE table.
using BenchmarkDotNet.Attributes;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Cpu;

namespace Pv.Benchmarks;

[MemoryDiagnoser]
public class WalkBenchmarks
{
    private const int Regions = 64;

    private (Machine M, SimCpu Cpu, MmId Mm, ulong[] Addresses) _thrash, _noCache, _single;
    private readonly AccessResult _result = new();

    [GlobalSetup]
    public void Setup()
    {
        _thrash = Build(new MachineOptions(), Regions);
        _noCache = Build(new MachineOptions { WalkCacheEntries = 0 }, Regions);
        _single = Build(new MachineOptions(), 1);

        foreach (var s in new[] { _thrash, _noCache })
        {
            // Warm up once round the cycle, then check a second round walks all 4 levels without a walk-cache hit.
            foreach (var a in s.Addresses) BenchMachines.Drain(Mmu.Walk(s.M, s.Cpu, s.Mm, a, AccessKind.Read, _result));
            long hits = s.M.Metrics.WalkCacheHits.Value;
            foreach (var a in s.Addresses) CheckFourLevels(s, a);
            BenchMachines.Check(s.M.Metrics.WalkCacheHits.Value == hits, "no walk-cache hit while cycling 64 regions");
        }
        _single.Cpu.WalkCache.FlushAll();
        CheckFourLevels(_single, _single.Addresses[0]);
        int steps = BenchMachines.Drain(Mmu.Walk(_single.M, _single.Cpu, _single.Mm, _single.Addresses[0], AccessKind.Read, _result));
        BenchMachines.Check(steps == 1 && _result.Status == AccessStatus.Ok, "a warm walk cache leaves one level to read");
    }

    private void CheckFourLevels((Machine M, SimCpu Cpu, MmId Mm, ulong[] Addresses) s, ulong a)
    {
        int steps = BenchMachines.Drain(Mmu.Walk(s.M, s.Cpu, s.Mm, a, AccessKind.Read, _result));
        BenchMachines.Check(steps == 4 && _result.Status == AccessStatus.Ok && _result.Slot.Level == PageTableLevel.Pte, "a 4-level walk");
    }

    private static (Machine, SimCpu, MmId, ulong[]) Build(MachineOptions options, int regions)
    {
        var m = new Machine(options);
        var mm = m.CreateMm();
        var cpu = m.Cpus[0];
        cpu.LoadMm(mm.Id);
        var addresses = new ulong[regions];
        for (int i = 0; i < regions; i++)
        {
            // Distinct top-level (P4D) index per region, so no two walks share any table below the top.
            addresses[i] = ((ulong)(i + 1) << 39) | ((ulong)i << 30) | ((ulong)i << 21) | ((ulong)i << 12);
            BenchMachines.MapPage(m, mm, addresses[i]);
        }
        return (m, cpu, mm.Id, addresses);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Regions)]
    public ulong Walk4Level_WalkCacheThrashed() => WalkAll(_thrash);

    [Benchmark(OperationsPerInvoke = Regions)]
    public ulong Walk4Level_NoWalkCache() => WalkAll(_noCache);

    [Benchmark]
    public ulong Walk4Level_FlushAllFirst()
    {
        _single.Cpu.WalkCache.FlushAll();
        return WalkOne(_single, _single.Addresses[0]);
    }

    [Benchmark]
    public void FlushAllOnly() => _single.Cpu.WalkCache.FlushAll();

    [Benchmark]
    public ulong Walk1Level_PteWalkCacheHit() => WalkOne(_single, _single.Addresses[0]);

    private ulong WalkAll((Machine M, SimCpu Cpu, MmId Mm, ulong[] Addresses) s)
    {
        ulong sum = 0;
        foreach (var a in s.Addresses) sum += WalkOne(s, a);
        return sum;
    }

    private ulong WalkOne((Machine M, SimCpu Cpu, MmId Mm, ulong[] Addresses) s, ulong a)
    {
        using var e = Mmu.Walk(s.M, s.Cpu, s.Mm, a, AccessKind.Read, _result).GetEnumerator();
        while (e.MoveNext()) { }
        return _result.Pfn.Value;
    }
}
