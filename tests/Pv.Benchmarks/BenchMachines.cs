// Shared set-up for the benchmarks: machines with populated 4-level page tables, and helpers that drive
// an engine step sequence (an IEnumerable<Step>) to completion outside the scheduler. Nothing here is timed.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Memory;
using Pv.Engine.Mm;
using Pv.Engine.Sched;

namespace Pv.Benchmarks;

internal static class BenchMachines
{
    /// <summary>Flags of an ordinary present, writable, user, young and dirty 4 KiB mapping.</summary>
    public const PteFlags UserRw = PteFlags.Present | PteFlags.Write | PteFlags.User | PteFlags.Accessed | PteFlags.Dirty;

    /// <summary>Map one fresh data frame at <paramref name="address"/> (allocating missing tables); returns the frame.</summary>
    public static Pfn MapPage(Machine m, MmStruct mm, ulong address)
    {
        var pfn = m.Memory.Alloc(AllocSite.DataPage, FrameKind.DataPage);
        if (!pfn.IsValid) throw new InvalidOperationException("out of memory");
        m.PageTables.Populate(mm.Id, address, PageTableEntry.Make(pfn, UserRw));
        return pfn;
    }

    /// <summary>Run a step sequence to its end; returns the number of steps it yielded.</summary>
    public static int Drain(IEnumerable<Step> steps)
    {
        int n = 0;
        using var e = steps.GetEnumerator();
        while (e.MoveNext()) n++;
        return n;
    }

    /// <summary>An operation that never ends: one <see cref="Step.Yield"/> per step.</summary>
    public static IEnumerable<Step> YieldForever()
    {
        while (true) yield return Step.Yield;
    }

    public static void Check(bool condition, string what)
    {
        if (!condition) throw new InvalidOperationException("benchmark set-up check failed: " + what);
    }
}
