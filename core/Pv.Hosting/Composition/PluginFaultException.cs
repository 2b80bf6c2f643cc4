// A plugin's own code failed at the contract boundary: an IPvMmuOps, IArchMmu, ISecondaryMmu or IMmuNotifier
// call, a callback it handed the host (an IPI handler, an RCU callback, a continuation), or its constructor or
// Register while the backend was composed. The exception names the plugin, the backend, the operation by its
// kernel name (flush_tlb_multi, flush_tlb_mm_range, ...) and carries the plugin's exception; for a fault in a
// run, the schedule up to the failing step, so the same command (same seed) reproduces it. It is neither a
// violation nor a bug in Pv: `pv` exits 4 on it.
namespace Pv.Hosting.Composition;

/// <summary>A plugin's code threw (or overran its time) at the contract boundary.</summary>
public class PluginFaultException : Exception
{
    /// <summary>A fault of <paramref name="plugin"/>'s <paramref name="backend"/> in <paramref name="operation"/>.</summary>
    /// <param name="plugin">The plugin's name in plugins.json.</param>
    /// <param name="backend">The backend's name in plugins.json.</param>
    /// <param name="operation">The contract operation, by its kernel name.</param>
    /// <param name="fault">The plugin's exception.</param>
    /// <param name="schedule">The schedule up to and including the failing step (empty at setup).</param>
    /// <param name="agent">Who ran the failing step ("setup" before the run).</param>
    public PluginFaultException(string plugin, string backend, string operation, Exception fault, IReadOnlyList<int> schedule, string agent)
        : this(plugin, backend, operation, $"{operation} threw {fault.GetType().Name}: {fault.Message}", fault)
    {
        Schedule = schedule;
        Agent = agent;
    }

    /// <summary>A fault whose <paramref name="reason"/> is worded by the caller (composition, a watchdog).</summary>
    protected PluginFaultException(string plugin, string backend, string operation, string reason, Exception? fault)
        : base($"plugin '{plugin}', backend '{backend}': {reason}", fault)
    {
        Plugin = plugin;
        Backend = backend;
        Operation = operation;
        Reason = reason;
    }

    /// <summary>The plugin's name in plugins.json.</summary>
    public string Plugin { get; }

    /// <summary>The backend's name in plugins.json.</summary>
    public string Backend { get; }

    /// <summary>The contract operation that failed, by its kernel name (or the composition step).</summary>
    public string Operation { get; }

    /// <summary>What went wrong, without the names.</summary>
    public string Reason { get; }

    /// <summary>The schedule up to and including the failing step; empty when no run had started.</summary>
    public IReadOnlyList<int> Schedule { get; } = [];

    /// <summary>Who ran the failing step, or "setup".</summary>
    public string Agent { get; } = "setup";
}
