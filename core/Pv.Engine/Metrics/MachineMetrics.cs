// The machine's event counters. The engine's own counters are fields fetched once at start, so counting on
// a hot path is one increment; plugins fetch theirs by name through IMetrics. Names are stable: A/B reports
// and the results store key on them. A reset machine has the counters a new one has: the engine's, at 0; a
// plugin's counter counts again from 0 once the plugin's new scope asks for it by name. The counter objects
// themselves are kept across resets (zeroed), so a search does not make its ~40 counters again every schedule.
using Pv.Abstractions.Host;

namespace Pv.Engine.Metrics;

/// <summary>Every counter of one machine.</summary>
public sealed class MachineMetrics : IMetrics
{
    // Every counter this machine ever made, with the run it was last asked for in; _all holds this run's.
    private readonly Dictionary<string, Registered> _byName = new(StringComparer.Ordinal);
    private readonly List<PvCounter> _all = [];
    private bool _sorted = true;
    private int _run;

    private sealed class Registered(PvCounter counter)
    {
        public PvCounter Counter { get; } = counter;
        public int Run { get; set; }
    }

    /// <summary>Creates the engine's counters.</summary>
    public MachineMetrics() => CreateEngineCounters();

    /// <summary>Back to a new machine's counters: the engine's, at 0; a plugin's are made again when its new scope asks.</summary>
    internal void Reset()
    {
        foreach (var c in _all) c.Reset();
        _all.Clear();
        _sorted = true;
        _run++;
        CreateEngineCounters();
    }

    private void CreateEngineCounters()
    {
        IpiSent = Counter("ipi.sent");
        InterruptsTaken = Counter("irq.taken");
        Hypercalls = Counter("hypercall");
        Multicalls = Counter("hypercall.multicall");
        TlbFlushPage = Counter("tlb.flush.page");
        TlbFlushRange = Counter("tlb.flush.range");
        TlbFlushAsid = Counter("tlb.flush.asid");
        TlbFlushAll = Counter("tlb.flush.all");
        TlbBroadcast = Counter("tlb.flush.broadcast");
        TlbHits = Counter("tlb.hit");
        TlbMisses = Counter("tlb.miss");
        Walks = Counter("walk");
        WalkCacheHits = Counter("walk.cache_hit");
        SpeculativeWalks = Counter("walk.speculative");
        TablesFreedNow = Counter("table.freed_now");
        TablesFreedRcu = Counter("table.freed_rcu");
        GracePeriods = Counter("rcu.grace_period");
        Faults = Counter("fault");
        AllocFailures = Counter("alloc.failure");
    }

    public PvCounter IpiSent { get; private set; } = null!;
    public PvCounter InterruptsTaken { get; private set; } = null!;
    public PvCounter Hypercalls { get; private set; } = null!;
    public PvCounter Multicalls { get; private set; } = null!;
    public PvCounter TlbFlushPage { get; private set; } = null!;
    public PvCounter TlbFlushRange { get; private set; } = null!;
    public PvCounter TlbFlushAsid { get; private set; } = null!;
    public PvCounter TlbFlushAll { get; private set; } = null!;
    public PvCounter TlbBroadcast { get; private set; } = null!;
    public PvCounter TlbHits { get; private set; } = null!;
    public PvCounter TlbMisses { get; private set; } = null!;
    public PvCounter Walks { get; private set; } = null!;
    public PvCounter WalkCacheHits { get; private set; } = null!;
    public PvCounter SpeculativeWalks { get; private set; } = null!;
    public PvCounter TablesFreedNow { get; private set; } = null!;
    public PvCounter TablesFreedRcu { get; private set; } = null!;
    public PvCounter GracePeriods { get; private set; } = null!;
    public PvCounter Faults { get; private set; } = null!;
    public PvCounter AllocFailures { get; private set; } = null!;

    /// <inheritdoc/>
    public PvCounter Counter(string name)
    {
        if (!_byName.TryGetValue(name, out var r))
        {
            r = new Registered(new PvCounter(name)) { Run = _run };
            _byName.Add(name, r);
        }
        else if (r.Run != _run) r.Run = _run;
        else return r.Counter;
        // First asked for in this run. Counters are read sorted only when a run is reported: append now, sort then.
        _all.Add(r.Counter);
        _sorted = false;
        return r.Counter;
    }

    /// <inheritdoc/>
    public IReadOnlyList<PvCounter> All
    {
        get
        {
            if (!_sorted)
            {
                _all.Sort(ByName);
                _sorted = true;
            }
            return _all;
        }
    }

    private static readonly Comparer<PvCounter> ByName = Comparer<PvCounter>.Create((a, b) => string.CompareOrdinal(a.Name, b.Name));
}

/// <summary>Simulated time per CPU, from the machine's <see cref="CostModel"/> and the backend's declared costs.</summary>
internal sealed class CostClock(CostModel model, IReadOnlyDictionary<string, long> backendCosts, int cpus) : ICost
{
    private readonly long[] _charged = new long[cpus];

    /// <inheritdoc/>
    public CostModel Model { get; } = model;

    /// <inheritdoc/>
    public long Value(string key) => backendCosts.TryGetValue(key, out long value)
        ? value
        : throw new KeyNotFoundException($"cost '{key}' is not declared by the backend (PvBackendInfo.Costs); declared: {(backendCosts.Count == 0 ? "none" : string.Join(", ", backendCosts.Keys))}");

    /// <inheritdoc/>
    public void Charge(int cpu, long nanoseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nanoseconds);
        _charged[cpu] += nanoseconds;
        Total += nanoseconds;
    }

    /// <inheritdoc/>
    public long Charged(int cpu) => _charged[cpu];

    /// <inheritdoc/>
    public long Total { get; private set; }
}
