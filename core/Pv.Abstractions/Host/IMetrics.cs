// Counters and simulated time. Both are per machine, so an A/B run compares two independent sets.
// Counters are handles fetched once: adding to one is a field increment, cheap enough for hot paths.
namespace Pv.Abstractions.Host;

/// <summary>One named event counter.</summary>
public sealed class PvCounter(string name)
{
    private long _value;

    /// <summary>The counter's name, for example <c>ipi.sent</c>.</summary>
    public string Name { get; } = name;

    /// <summary>The current value.</summary>
    public long Value => _value;

    /// <summary>Add one.</summary>
    public void Increment() => _value++;

    /// <summary>Add <paramref name="n"/>.</summary>
    public void Add(long n) => _value += n;

    /// <summary>Back to 0, when the engine resets the machine the counter belongs to.</summary>
    internal void Reset() => _value = 0;
}

/// <summary>The machine's counters, by name.</summary>
public interface IMetrics
{
    /// <summary>The counter called <paramref name="name"/>, created at 0 on first use. Fetch once, keep the handle.</summary>
    PvCounter Counter(string name);

    /// <summary>Every counter, by name, in ordinal name order.</summary>
    IReadOnlyList<PvCounter> All { get; }
}

/// <summary>Simulated time, charged per CPU (and per device).</summary>
public interface ICost
{
    /// <summary>The engine's figures in force for this machine (defaults overridden by plugins.json and the scenario).</summary>
    CostModel Model { get; }

    /// <summary>
    /// The value in force of a cost the backend declares (<see cref="Plugins.PvBackendInfo.Costs"/>): its declared
    /// default unless plugins.json or the scenario overrides it. Read it once, when the plugin's service is built.
    /// </summary>
    /// <param name="key">A key of the backend's <see cref="Plugins.PvCostInfo"/>, for example <c>tlbSinglePageFlushCeiling</c>.</param>
    /// <exception cref="KeyNotFoundException">The backend does not declare <paramref name="key"/>.</exception>
    long Value(string key);

    /// <summary>Charge <paramref name="nanoseconds"/> of simulated time to <paramref name="cpu"/>.</summary>
    void Charge(int cpu, long nanoseconds);

    /// <summary>Simulated nanoseconds charged so far to <paramref name="cpu"/>.</summary>
    long Charged(int cpu);

    /// <summary>Simulated nanoseconds charged so far to all CPUs together (system time).</summary>
    long Total { get; }
}
