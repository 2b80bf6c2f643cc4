// The contract boundary of one machine's plugin objects: every call the engine makes into plugin code (the
// decorators of IPvMmuOps, IArchMmu, ISecondaryMmu, and the callbacks a plugin hands the host: IPI handlers,
// RCU callbacks, continuations, mmu notifiers) goes through here. An exception the plugin's code throws becomes
// a PluginFaultException naming the plugin, the backend and the operation by its kernel name, with the schedule
// so far; what is not the plugin's passes through untouched: a fault already named by an inner boundary (a
// plugin calling another through the host), an engine invariant failing while it served the plugin, or the
// scenario's own error. Each call is also reported to the command's RunWatch so a watchdog can name a call that
// never returns. One boundary per machine scope (DI), so its machine's schedule is the one reported.
using Pv.Engine;
using Pv.Engine.Host;

namespace Pv.Hosting.Composition;

/// <summary>Where a machine calls into its backend's plugin; turns the plugin's exceptions into plugin faults.</summary>
public sealed class PluginBoundary
{
    private readonly MachineScope _scope;
    private readonly RunWatch? _watch = RunWatch.Current;

    /// <summary>The boundary of <paramref name="backend"/> (of <paramref name="plugin"/>) in the machine of <paramref name="scope"/>.</summary>
    public PluginBoundary(string plugin, string backend, MachineScope scope) => (Plugin, Backend, _scope) = (plugin, backend, scope);

    /// <summary>The plugin's name in plugins.json.</summary>
    public string Plugin { get; }

    /// <summary>The backend's name in plugins.json.</summary>
    public string Backend { get; }

    /// <summary>
    /// True when <paramref name="e"/>, escaping a call into plugin code, is the plugin's fault: anything but a fault an
    /// inner boundary already named, an engine invariant, a refused operation of the scenario, or a requested stop.
    /// </summary>
    public static bool IsPluginFault(Exception e) =>
        e is not (PluginFaultException or EngineBugException or SimulationInternalError or PvInputException or RunStoppedException);

    /// <summary>The fault of <paramref name="operation"/> that threw <paramref name="e"/>, with the schedule up to the failing step.</summary>
    public PluginFaultException Fault(string operation, Exception e)
    {
        var machine = _scope.Machine;
        var schedule = machine.Schedule.ToArray();
        string agent = schedule.Length == 0 ? "setup" : machine.EntityName(schedule[^1]);
        return new PluginFaultException(Plugin, Backend, operation, e, schedule, agent);
    }

    /// <summary>Reports <paramref name="operation"/> in flight; pass the result to <see cref="Exit"/> when it returns.</summary>
    public PluginCall Enter(string operation) => _watch is { } watch ? watch.Enter(this, operation) : default;

    /// <summary>Reports the call <see cref="Enter"/> began as returned.</summary>
    public void Exit(PluginCall previous) => _watch?.Exit(previous);

    /// <summary>Runs plugin code <paramref name="body"/> as <paramref name="operation"/> (callbacks; the hot decorators inline this).</summary>
    public void Call(string operation, Action body)
    {
        var call = Enter(operation);
        try { body(); }
        catch (Exception e) when (IsPluginFault(e)) { throw Fault(operation, e); }
        finally { Exit(call); }
    }

    /// <summary>Runs plugin code <paramref name="body"/> as <paramref name="operation"/> and returns its result.</summary>
    public T Call<T>(string operation, Func<T> body)
    {
        var call = Enter(operation);
        try { return body(); }
        catch (Exception e) when (IsPluginFault(e)) { throw Fault(operation, e); }
        finally { Exit(call); }
    }
}
