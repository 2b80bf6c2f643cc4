// Test helpers: a small machine with one user mm and mapped pages, and a test-double flush backend that
// uses only the host services a real plugin would (waited IPIs, or a hypercall that does not wait).
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

    public TestMachine(int cpus = 2, int levels = 4, bool strictO3 = false)
    {
        M = new Machine(new MachineOptions { Cpus = cpus, PagingLevels = levels, StrictO3 = strictO3 });
        Mm = M.CreateMm();
        for (int c = 0; c < cpus; c++) M.Cpus[c].LoadMm(Mm.Id);
    }

    public Machine M { get; }
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

/// <summary>A test-double flush backend built only on host services, as a plugin would be.</summary>
internal sealed class TestFlusher(Machine m, FlushMode mode)
{
    /// <summary>flush_tlb_mm_range: local flush plus remote CPUs of mm_cpumask.</summary>
    public void FlushRange(MmId mm, ulong start, ulong end, bool freedTables)
    {
        var inv = TlbInvalidation.Range(mm, start, end, walkCaches: freedTables);
        var others = m.Cpus.MmCpumask(mm).Without(m.CurrentCpu.Id);
        m.CurrentCpu.Invalidate(inv);
        if (others.IsEmpty) return;
        if (mode == FlushMode.WaitedIpi) m.Ipi.SendIpi(others, cpu => cpu.Invalidate(inv), wait: true);
        else m.Hypervisor.Issue(new Hypercall(HypercallCommand.TlbFlushMulti, others, inv));
    }
}
