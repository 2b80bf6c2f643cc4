// mm/mmu_notifier.c: subscriptions per mm, the paired range invalidations the generic mm sends, the
// interval-notifier sequence (odd while an invalidation runs) with read_begin / read_retry, and the arch
// flush hook. O7 is checked here: an end without a start, and (through InvalidationActive) a secondary
// mapping made inside an active invalidation.
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Sched;

namespace Pv.Engine.Notifiers;

/// <summary>IMmuNotifierRegistry on a machine, plus the calls the generic mm makes.</summary>
internal sealed class NotifierRegistry : IMmuNotifierRegistry
{
    private readonly Machine _machine;
    private readonly Dictionary<int, List<IMmuNotifier>> _subscribers = [];
    private readonly List<(MmuIntervalNotifier Sub, IMmuIntervalNotifierOps Ops)> _intervals = [];
    private readonly Dictionary<int, ulong> _subscriptionSeq = [];
    private readonly Dictionary<int, ulong> _invalidateSeq = [];
    private readonly List<MmuNotifierRange> _active = [];
    private readonly Abstractions.Host.PvCounter _starts, _ends, _secondaryTlbs;

    internal NotifierRegistry(Machine machine)
    {
        _machine = machine;
        _starts = machine.Metrics.Counter("notifier.invalidate_start");
        _ends = machine.Metrics.Counter("notifier.invalidate_end");
        _secondaryTlbs = machine.Metrics.Counter("notifier.arch_invalidate_secondary_tlbs");
    }

    /// <summary>Invalidations started and not yet ended.</summary>
    public IReadOnlyList<MmuNotifierRange> Active => _active;

    /// <inheritdoc/>
    public void Register(MmId mm, IMmuNotifier notifier)
    {
        if (!_subscribers.TryGetValue(mm.Value, out var list)) _subscribers[mm.Value] = list = [];
        list.Add(notifier);
    }

    /// <inheritdoc/>
    public void Unregister(MmId mm, IMmuNotifier notifier)
    {
        if (_subscribers.TryGetValue(mm.Value, out var list) && list.Remove(notifier) && !_machine.Mm(mm).Dead)
            notifier.Release(mm);
    }

    /// <inheritdoc/>
    public MmuIntervalNotifier IntervalInsert(MmId mm, ulong start, ulong length, IMmuIntervalNotifierOps ops)
    {
        var sub = new MmuIntervalNotifier(_intervals.Count, mm, start, length);
        _intervals.Add((sub, ops));
        _subscriptionSeq[sub.Id] = Seq(mm);
        return sub;
    }

    /// <inheritdoc/>
    public void IntervalRemove(MmuIntervalNotifier subscription) => _intervals.RemoveAll(x => x.Sub.Id == subscription.Id);

    /// <inheritdoc/>
    public ulong? IntervalReadBegin(MmuIntervalNotifier subscription)
    {
        // The subscription's own sequence; the caller must wait only while the invalidation that set it runs.
        ulong seq = _subscriptionSeq[subscription.Id];
        ulong global = Seq(subscription.Mm);
        if ((global & 1) == 0 || seq != global) return seq;
        var thread = _machine.CurrentThread ?? throw new InvalidOperationException("mmu_interval_read_begin outside a thread");
        thread.AddWait(new EvenSeq(this, subscription.Mm));
        return null;
    }

    /// <inheritdoc/>
    public bool IntervalReadRetry(MmuIntervalNotifier subscription, ulong seq) => _subscriptionSeq[subscription.Id] != seq;

    /// <inheritdoc/>
    public void IntervalSetSeq(MmuIntervalNotifier subscription, ulong seq) => _subscriptionSeq[subscription.Id] = seq;

    /// <inheritdoc/>
    public void ArchInvalidateSecondaryTlbs(MmId mm, ulong start, ulong end)
    {
        _secondaryTlbs.Increment();
        _machine.Trace(TraceEvents.ArchInvalidateSecondaryTlbs, start, end);
        foreach (var n in Subscribers(mm)) n.ArchInvalidateSecondaryTlbs(mm, start, end);
    }

    /// <summary><c>mmu_notifier_invalidate_range_start</c>.</summary>
    public void InvalidateRangeStart(in MmuNotifierRange range)
    {
        _starts.Increment();
        _active.Add(range);
        // The sequence turns odd when the first invalidation of the mm starts and even when the last one ends.
        if (ActiveCount(range.Mm) == 1) _invalidateSeq[range.Mm.Value] = Seq(range.Mm) + 1;
        ulong seq = Seq(range.Mm);
        _machine.Trace(TraceEvents.InvalidateRangeStart, range.Start, range.End);
        foreach (var (sub, ops) in _intervals.ToArray())
            if (sub.Mm == range.Mm && sub.Start < range.End && range.Start < sub.Start + sub.Length)
                ops.Invalidate(sub, range, seq);
        foreach (var n in Subscribers(range.Mm)) n.InvalidateRangeStart(range);
    }

    /// <summary><c>mmu_notifier_invalidate_range_end</c>: O7 if no matching start is active.</summary>
    public void InvalidateRangeEnd(in MmuNotifierRange range)
    {
        _ends.Increment();
        int i = _active.IndexOf(range);
        if (i < 0)
        {
            _machine.Oracle.Report(new Oracle.Violation(Oracle.InvariantId.O7, $"invalidate_range_end [{range.Start:x}, {range.End:x}) without a start", _machine.CurrentAgent, range.Mm, range.Start, Abstractions.Memory.Pfn.None, 0, 0, _machine.Step));
            return;
        }
        _active.RemoveAt(i);
        if (ActiveCount(range.Mm) == 0) _invalidateSeq[range.Mm.Value] = Seq(range.Mm) + 1;
        _machine.Trace(TraceEvents.InvalidateRangeEnd, range.Start, range.End);
        foreach (var n in Subscribers(range.Mm)) n.InvalidateRangeEnd(range);
    }

    /// <summary><c>mmu_notifier_clear_flush_young</c>: true if any subscriber saw the range accessed.</summary>
    public bool ClearFlushYoung(MmId mm, ulong start, ulong end)
    {
        bool young = false;
        foreach (var n in Subscribers(mm)) young |= n.ClearFlushYoung(mm, start, end);
        return young;
    }

    /// <summary><c>mmu_notifier_clear_young</c>.</summary>
    public bool ClearYoung(MmId mm, ulong start, ulong end)
    {
        bool young = false;
        foreach (var n in Subscribers(mm)) young |= n.ClearYoung(mm, start, end);
        return young;
    }

    /// <summary><c>mmu_notifier_test_young</c>: stops at the first subscriber that saw the page accessed.</summary>
    public bool TestYoung(MmId mm, ulong address)
    {
        foreach (var n in Subscribers(mm))
            if (n.TestYoung(mm, address)) return true;
        return false;
    }

    /// <summary><c>mmu_notifier_release</c> from exit_mmap.</summary>
    public void Release(MmId mm)
    {
        foreach (var n in Subscribers(mm)) n.Release(mm);
    }

    /// <summary>True if an invalidation of <paramref name="mm"/> covering <paramref name="address"/> is between start and end.</summary>
    public bool InvalidationActive(MmId mm, ulong address)
    {
        foreach (var r in _active)
            if (r.Mm == mm && address >= r.Start && address < r.End) return true;
        return false;
    }

    private ulong Seq(MmId mm) => _invalidateSeq.GetValueOrDefault(mm.Value);

    private int ActiveCount(MmId mm)
    {
        int n = 0;
        foreach (var r in _active)
            if (r.Mm == mm) n++;
        return n;
    }

    private IReadOnlyList<IMmuNotifier> Subscribers(MmId mm) =>
        _subscribers.TryGetValue(mm.Value, out var list) ? list.ToArray() : [];

    private sealed class EvenSeq(NotifierRegistry r, MmId mm) : IWaitCondition
    {
        public bool IsSatisfied => (r.Seq(mm) & 1) == 0;
        public string Describe() => $"invalidate_seq of {mm} to become even";
    }
}
