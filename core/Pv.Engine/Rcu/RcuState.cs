// RCU-sched as Pv needs it: a reader is a CPU with IRQs off or inside rcu_read_lock. A grace period that
// starts at step T ends once every CPU that was a reader at T has left its reader section (a CPU that was
// not a reader at T cannot hold a reference taken before T). Callbacks queued by call_rcu wait for a grace
// period that starts after the call, then run as a softirq step of their own. synchronize_rcu blocks the
// calling thread the same way.
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Engine.Cpu;
using Pv.Engine.Sched;

namespace Pv.Engine.Rcu;

/// <summary>The machine's RCU state.</summary>
internal sealed class RcuState : IRcu
{
    private readonly Machine _machine;
    private readonly List<(ulong Target, Action Callback)> _waiting = [];
    private readonly Queue<Action> _ready = new();
    private CpuMask _holdouts;
    private ulong _completed;
    private ulong _current;

    internal RcuState(Machine machine)
    {
        _machine = machine;
        Softirq = new RcuSoftirq(this);
    }

    /// <summary>Grace periods completed.</summary>
    public ulong Completed => _completed;

    /// <summary>True while a grace period is running.</summary>
    public bool GracePeriodInProgress => _current > _completed;

    /// <summary>Callbacks whose grace period ended and that have not run yet.</summary>
    public int ReadyCallbacks => _ready.Count;

    internal RcuSoftirq Softirq { get; }

    /// <inheritdoc/>
    public void CallRcu(Action callback)
    {
        ulong target = Snapshot();
        if (target <= _completed) _ready.Enqueue(callback);
        else _waiting.Add((target, callback));
        _machine.Trace(TraceEvents.CallRcu, target, 0);
    }

    /// <inheritdoc/>
    public void SynchronizeRcu()
    {
        ulong target = Snapshot();
        var thread = _machine.CurrentThread ?? throw new InvalidOperationException("synchronize_rcu outside a thread");
        thread.AddWait(new GpWait(this, target));
        _machine.Trace(TraceEvents.SynchronizeRcu, target, 0);
    }

    /// <summary>
    /// The grace period a new callback needs: the next one to start (if one is running, the one after it,
    /// because the running one may have started before the caller's update).
    /// </summary>
    private ulong Snapshot()
    {
        if (GracePeriodInProgress) return _current + 1;
        StartGracePeriod();
        return _current;
    }

    private void StartGracePeriod()
    {
        _current = _completed + 1;
        _holdouts = CpuMask.Empty;
        foreach (var cpu in _machine.Cpus.All)
            if (cpu.InRcuReader) _holdouts.Set(cpu.Id);
        _machine.Trace(TraceEvents.GpStart, _current, (ulong)_holdouts.Count, TraceEvents.CpuBits(_holdouts));
        if (_holdouts.IsEmpty) EndGracePeriod();
    }

    /// <summary>A CPU left its last reader section: it has passed a quiescent state.</summary>
    internal void QuiescentState(SimCpu cpu)
    {
        if (!GracePeriodInProgress || !_holdouts.Contains(cpu.Id)) return;
        _holdouts.Clear(cpu.Id);
        if (_holdouts.IsEmpty) EndGracePeriod();
    }

    private void EndGracePeriod()
    {
        _completed = _current;
        _machine.Metrics.GracePeriods.Increment();
        _machine.Trace(TraceEvents.GpEnd, _completed, 0);
        for (int i = 0; i < _waiting.Count;)
        {
            if (_waiting[i].Target <= _completed)
            {
                _ready.Enqueue(_waiting[i].Callback);
                _waiting.RemoveAt(i);
            }
            else i++;
        }
        // Callbacks queued during this grace period need another one.
        if (_waiting.Count > 0) StartGracePeriod();
    }

    private sealed class GpWait(RcuState rcu, ulong target) : IWaitCondition
    {
        public bool IsSatisfied => rcu._completed >= target;
        public string Describe() => $"rcu grace period {target} (completed {rcu._completed})";
    }

    /// <summary>Runs ready RCU callbacks, one per step (RCU_SOFTIRQ).</summary>
    internal sealed class RcuSoftirq(RcuState rcu) : ISchedulable
    {
        public int Id { get; set; } = -1;
        public string Name => "rcu";
        public bool IsRunnable => rcu._ready.Count > 0;
        public void RunStep() => rcu._ready.Dequeue()();
    }
}
