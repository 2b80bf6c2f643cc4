// Not a target by itself: the cost of each piece the TLB-hit access (target 1) and the hardware walk (target 2)
// are made of, so a miss on either target can be attributed. Per call, on a machine set up like WalkBenchmarks:
//   MachineTrace            - Machine.Trace outside a step (two TraceHash.Mix calls: byte-wise FNV-1a, 16 multiplies).
//   TraceHashMix            - one TraceHash.Add.
//   CostCharge              - CostClock.Charge.
//   OracleCheckTableRead    - Oracle.CheckTableRead of a live table (per walk level).
//   OracleCheckAccess       - Oracle.CheckAccess of a live data frame (per access).
//   WalkCacheLookupMiss     - WalkCache.TryLookup that misses all 3 x 16 entries (start of every cold walk).
//   WalkCacheFill           - WalkCache.Fill into a full level (per non-leaf walk level).
//   TlbFill                 - Tlb.Fill of a 4 KiB leaf (end of every walk).
//   EmptyIteratorAlloc      - create and drain a trivial 1-step iterator: the per-call allocation/dispatch floor.
using BenchmarkDotNet.Attributes;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Cpu;
using Pv.Engine.Memory;
using Pv.Engine.Sched;

namespace Pv.Benchmarks;

[MemoryDiagnoser]
public class HotPathBreakdownBenchmarks
{
    private const ulong Address = 0x7f00_0000_1000UL;

    private Machine _m = null!;
    private SimCpu _cpu = null!;
    private MmId _mm;
    private Pfn _table, _data;
    private uint _tableGen, _dataGen;
    private TraceHash _hash;
    private int _i;

    [GlobalSetup]
    public void Setup()
    {
        _m = new Machine(new MachineOptions());
        var mm = _m.CreateMm();
        _mm = mm.Id;
        _cpu = _m.Cpus[0];
        _cpu.LoadMm(_mm);
        _data = BenchMachines.MapPage(_m, mm, Address);
        _dataGen = _m.Memory.GenerationOf(_data);
        _table = mm.Pgd;
        _tableGen = _m.Memory.GenerationOf(_table);
        // Fill every walk-cache level with pointers for other addresses, so lookups of Address miss the full scan.
        for (int i = 0; i < 16; i++)
            for (int level = 0; level < 3; level++)
                _cpu.WalkCache.Fill(_mm.Value, (ulong)(i + 100) << 39, (PageTableLevel)level, _table, _tableGen);
        BenchMachines.Check(!_cpu.WalkCache.TryLookup(_mm.Value, Address, out _), "walk-cache lookup misses");
    }

    [Benchmark(Baseline = true)]
    public void MachineTrace() => _m.Trace(TraceEvents.WalkRead, Address, 0x1234);

    [Benchmark]
    public ulong TraceHashMix()
    {
        _hash.Add(Address);
        return _hash.Value;
    }

    [Benchmark]
    public void CostCharge() => _m.Cost.Charge(_cpu.Id, _m.Cost.Model.WalkLevel);

    [Benchmark]
    public bool OracleCheckTableRead() => _m.Oracle.CheckTableRead("setup", _mm, Address, _table, _tableGen, "hardware walk");

    [Benchmark]
    public bool OracleCheckAccess() => _m.Oracle.CheckAccess("setup", _mm, Address, AccessKind.Read, _data, _dataGen, cached: true, filledAt: -1);

    [Benchmark]
    public bool WalkCacheLookupMiss() => _cpu.WalkCache.TryLookup(_mm.Value, Address, out _);

    [Benchmark]
    public void WalkCacheFill() =>
        // A span not cached: always a replacement after scanning the 16 entries of the PMD-table level.
        _cpu.WalkCache.Fill(_mm.Value, (ulong)(200 + (_i++ & 63)) << 39, PageTableLevel.Pmd, _table, _tableGen);

    [Benchmark]
    public void TlbFill() => _cpu.Tlb.Fill(_mm.Value, Address, PageTableLevel.Pte, _data, _dataGen, BenchMachines.UserRw);

    [Benchmark]
    public int EmptyIteratorAlloc() => BenchMachines.Drain(OneStep());

    private static IEnumerable<Step> OneStep()
    {
        yield return Step.Yield;
    }
}
