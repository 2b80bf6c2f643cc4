// What a watchdog needs to see of one command's run, kept without a thread per call: the plugin call in flight
// (PluginBoundary writes the backend and the operation on entry and restores them on return: two stores, no
// clock), and a stop request (Ctrl-C, --time-limit) that runs honour between schedules (CompiledScenario.Build).
// A command installs one on its thread; machines composed on that thread report to it. A command that runs
// machines on several threads (--jobs) gives each worker a lane: a call slot of its own, the command's one stop
// request. The watchdog thread (PluginWatchdog) only reads them, so a plugin call that never returns is named
// without being interrupted.
namespace Pv.Hosting.Composition;

/// <summary>A plugin call in flight: the boundary (plugin, backend) and the operation, or none.</summary>
/// <param name="Boundary">The boundary the call went through, or null.</param>
/// <param name="Operation">The operation's kernel name, or null.</param>
public readonly record struct PluginCall(PluginBoundary? Boundary, string? Operation);

/// <summary>A run stopped on request (Ctrl-C or the time limit) at a schedule boundary; what finished is kept.</summary>
/// <param name="reason">Why: "interrupted" or the time limit.</param>
public sealed class RunStoppedException(string reason) : Exception(reason);

/// <summary>The plugin call in flight and the stop request of one command's run.</summary>
public sealed class RunWatch
{
    [ThreadStatic] private static RunWatch? t_current;

    private readonly RunWatch? _command;
    private readonly List<RunWatch> _lanes = [];
    private readonly CallSlot _slot = new();
    private string? _stop;

    /// <summary>The watch of a command.</summary>
    public RunWatch() { }

    private RunWatch(RunWatch command) => _command = command;

    /// <summary>A lane for another thread of this command (a worker of --jobs): its own call slot, the command's stop request.</summary>
    public RunWatch Lane()
    {
        var root = _command ?? this;
        var lane = new RunWatch(root);
        lock (root._lanes) root._lanes.Add(lane);
        return lane;
    }

    /// <summary>The command's watch and every lane it gave out: what the watchdog looks at.</summary>
    public IReadOnlyList<RunWatch> Lanes
    {
        get
        {
            var root = _command ?? this;
            lock (root._lanes) return [root, .. root._lanes];
        }
    }

    /// <summary>The watch installed on this thread, or null (machines composed then report to nobody).</summary>
    public static RunWatch? Current => t_current;

    /// <summary>Installs this watch on the calling thread until the result is disposed.</summary>
    public IDisposable Install()
    {
        var previous = t_current;
        t_current = this;
        return new Restore(previous);
    }

    /// <summary>The call in flight now (read from another thread: a snapshot).</summary>
    public PluginCall InFlight => new(Volatile.Read(ref _slot.Boundary), Volatile.Read(ref _slot.Operation));

    /// <summary>Counts plugin calls entered and left: unchanged between two looks means the same call is still running.</summary>
    public long CallsSeen => Volatile.Read(ref _slot.Calls);

    /// <summary>Asks the run to stop at its next schedule boundary, for <paramref name="reason"/>.</summary>
    public void RequestStop(string reason) => Interlocked.CompareExchange(ref (_command ?? this)._stop, reason, null);

    /// <summary>Why a stop was requested, or null.</summary>
    public string? StopReason => Volatile.Read(ref (_command ?? this)._stop);

    /// <summary>Throws <see cref="RunStoppedException"/> when a stop was requested.</summary>
    public void ThrowIfStopRequested()
    {
        if (StopReason is { } reason) throw new RunStoppedException(reason);
    }

    internal PluginCall Enter(PluginBoundary boundary, string operation)
    {
        var slot = _slot;
        var previous = new PluginCall(slot.Boundary, slot.Operation);
        Volatile.Write(ref slot.Operation, operation);
        Volatile.Write(ref slot.Boundary, boundary);
        Volatile.Write(ref slot.Calls, slot.Calls + 1);
        return previous;
    }

    internal void Exit(PluginCall previous)
    {
        var slot = _slot;
        Volatile.Write(ref slot.Boundary, previous.Boundary);
        Volatile.Write(ref slot.Operation, previous.Operation);
        Volatile.Write(ref slot.Calls, slot.Calls + 1);
    }

    /// <summary>
    /// One lane's call in flight, written on every plugin call. Its fields sit 64 bytes into an object of 192, so two
    /// workers' slots never share a cache line (which their cores would otherwise pass back and forth on every call).
    /// </summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 192)]
    private sealed class CallSlot
    {
        [System.Runtime.InteropServices.FieldOffset(64)] public PluginBoundary? Boundary;
        [System.Runtime.InteropServices.FieldOffset(72)] public string? Operation;
        [System.Runtime.InteropServices.FieldOffset(80)] public long Calls;
    }

    private sealed class Restore(RunWatch? previous) : IDisposable
    {
        public void Dispose() => t_current = previous;
    }
}
