// The host services a plugin hands code to, seen from the plugin's side: the IPI handler it sends, the RCU
// callback it queues, the continuation it asks for, the broadcast observer and the mmu notifiers it subscribes.
// The engine runs that code later, from another entity's step, outside any IPvMmuOps or IArchMmu call; each is
// wrapped here, once, in the machine's PluginBoundary, so a throw from it is still the plugin's fault, named by
// the kernel's name for the callback. Everything else is forwarded unchanged.
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;

namespace Pv.Hosting.Composition;

/// <summary><see cref="IIpi"/> whose handlers run inside the plugin boundary.</summary>
public sealed class GuardedIpi(IIpi inner, PluginBoundary boundary) : IIpi
{
    /// <inheritdoc/>
    public void SendIpi(CpuMask targets, IpiHandler handler, bool wait) =>
        inner.SendIpi(targets, cpu => boundary.Call("smp_call_function handler", () => handler(cpu)), wait);
}

/// <summary><see cref="IRcu"/> whose callbacks run inside the plugin boundary.</summary>
public sealed class GuardedRcu(IRcu inner, PluginBoundary boundary) : IRcu
{
    /// <inheritdoc/>
    public void CallRcu(Action callback) => inner.CallRcu(() => boundary.Call("call_rcu callback", callback));

    /// <inheritdoc/>
    public void SynchronizeRcu() => inner.SynchronizeRcu();
}

/// <summary><see cref="IWaits"/> whose continuations run inside the plugin boundary.</summary>
public sealed class GuardedWaits(IWaits inner, PluginBoundary boundary) : IWaits
{
    /// <inheritdoc/>
    public void Then(Action continuation) => inner.Then(() => boundary.Call("continuation after a wait", continuation));
}

/// <summary><see cref="ICpus"/> whose broadcast observers run inside the plugin boundary.</summary>
public sealed class GuardedCpus(ICpus inner, PluginBoundary boundary) : ICpus
{
    /// <summary>The machine's CPUs.</summary>
    public ICpus Inner => inner;

    /// <inheritdoc/>
    public int Count => inner.Count;

    /// <inheritdoc/>
    public ICpu Current => inner.Current;

    /// <inheritdoc/>
    public ICpu this[int cpu] => inner[cpu];

    /// <inheritdoc/>
    public CpuMask Online => inner.Online;

    /// <inheritdoc/>
    public CpuMask MmCpumask(MmId mm) => inner.MmCpumask(mm);

    /// <inheritdoc/>
    public void ClearMmCpumask(MmId mm, int cpu) => inner.ClearMmCpumask(mm, cpu);

    /// <inheritdoc/>
    public ulong MmTlbGen(MmId mm) => inner.MmTlbGen(mm);

    /// <inheritdoc/>
    public ulong IncMmTlbGen(MmId mm) => inner.IncMmTlbGen(mm);

    /// <inheritdoc/>
    public void BroadcastInvalidate(in TlbInvalidation invalidation) => inner.BroadcastInvalidate(invalidation);

    /// <inheritdoc/>
    public void AddBroadcastObserver(ITlbBroadcastObserver observer) => inner.AddBroadcastObserver(new Observer(observer, boundary));

    private sealed class Observer(ITlbBroadcastObserver inner, PluginBoundary boundary) : ITlbBroadcastObserver
    {
        public void OnBroadcastInvalidate(in TlbInvalidation invalidation)
        {
            var call = boundary.Enter("broadcast TLBI snoop");
            try { inner.OnBroadcastInvalidate(invalidation); }
            catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("broadcast TLBI snoop", e); }
            finally { boundary.Exit(call); }
        }
    }
}

/// <summary>
/// <see cref="IMmuNotifierRegistry"/> whose subscribers (mmu_notifier_ops, interval notifier ops) run inside the plugin
/// boundary. A notifier is wrapped once per registration, and unregistering finds the same wrapper.
/// </summary>
public sealed class GuardedNotifierRegistry(IMmuNotifierRegistry inner, PluginBoundary boundary) : IMmuNotifierRegistry
{
    private readonly Dictionary<(MmId, IMmuNotifier), IMmuNotifier> _wrapped = [];

    /// <inheritdoc/>
    public void Register(MmId mm, IMmuNotifier notifier)
    {
        var guarded = new GuardedMmuNotifier(notifier, boundary);
        _wrapped[(mm, notifier)] = guarded;
        inner.Register(mm, guarded);
    }

    /// <inheritdoc/>
    public void Unregister(MmId mm, IMmuNotifier notifier)
    {
        if (_wrapped.Remove((mm, notifier), out var guarded)) inner.Unregister(mm, guarded);
        else inner.Unregister(mm, notifier);
    }

    /// <inheritdoc/>
    public MmuIntervalNotifier IntervalInsert(MmId mm, ulong start, ulong length, IMmuIntervalNotifierOps ops) =>
        inner.IntervalInsert(mm, start, length, new GuardedIntervalOps(ops, boundary));

    /// <inheritdoc/>
    public void IntervalRemove(MmuIntervalNotifier subscription) => inner.IntervalRemove(subscription);

    /// <inheritdoc/>
    public ulong? IntervalReadBegin(MmuIntervalNotifier subscription) => inner.IntervalReadBegin(subscription);

    /// <inheritdoc/>
    public bool IntervalReadRetry(MmuIntervalNotifier subscription, ulong seq) => inner.IntervalReadRetry(subscription, seq);

    /// <inheritdoc/>
    public void IntervalSetSeq(MmuIntervalNotifier subscription, ulong seq) => inner.IntervalSetSeq(subscription, seq);

    /// <inheritdoc/>
    public void ArchInvalidateSecondaryTlbs(MmId mm, ulong start, ulong end) => inner.ArchInvalidateSecondaryTlbs(mm, start, end);

    private sealed class GuardedIntervalOps(IMmuIntervalNotifierOps inner, PluginBoundary boundary) : IMmuIntervalNotifierOps
    {
        public bool Invalidate(MmuIntervalNotifier subscription, in MmuNotifierRange range, ulong currentSeq)
        {
            var call = boundary.Enter("mmu_interval_notifier invalidate");
            try { return inner.Invalidate(subscription, range, currentSeq); }
            catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("mmu_interval_notifier invalidate", e); }
            finally { boundary.Exit(call); }
        }
    }
}

/// <summary>One subscriber's mmu_notifier_ops, each callback inside the plugin boundary under its kernel name.</summary>
internal sealed class GuardedMmuNotifier(IMmuNotifier inner, PluginBoundary boundary) : IMmuNotifier
{
    public void Release(MmId mm) => boundary.Call("mmu_notifier release", () => inner.Release(mm));

    public bool ClearFlushYoung(MmId mm, ulong start, ulong end) => boundary.Call("mmu_notifier clear_flush_young", () => inner.ClearFlushYoung(mm, start, end));

    public bool ClearYoung(MmId mm, ulong start, ulong end) => boundary.Call("mmu_notifier clear_young", () => inner.ClearYoung(mm, start, end));

    public bool TestYoung(MmId mm, ulong address) => boundary.Call("mmu_notifier test_young", () => inner.TestYoung(mm, address));

    public int InvalidateRangeStart(in MmuNotifierRange range)
    {
        var call = boundary.Enter("mmu_notifier invalidate_range_start");
        try { return inner.InvalidateRangeStart(range); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("mmu_notifier invalidate_range_start", e); }
        finally { boundary.Exit(call); }
    }

    public void InvalidateRangeEnd(in MmuNotifierRange range)
    {
        var call = boundary.Enter("mmu_notifier invalidate_range_end");
        try { inner.InvalidateRangeEnd(range); }
        catch (Exception e) when (PluginBoundary.IsPluginFault(e)) { throw boundary.Fault("mmu_notifier invalidate_range_end", e); }
        finally { boundary.Exit(call); }
    }

    public void ArchInvalidateSecondaryTlbs(MmId mm, ulong start, ulong end) =>
        boundary.Call("mmu_notifier arch_invalidate_secondary_tlbs", () => inner.ArchInvalidateSecondaryTlbs(mm, start, end));
}
