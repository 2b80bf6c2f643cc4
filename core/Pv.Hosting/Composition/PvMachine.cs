// One composed simulated machine: an engine Machine and the DI scope of its backend's host that serves it
// (the engine's host services for that Machine plus the backend's plugin objects, all its own). Two
// PvMachines never share a Machine, a scope or a plugin object; they share the backend's root provider.
// Created only by BackendHost.CreateMachine. Reset gives the next schedule of a search a machine as new: the
// scope and every plugin object in it are disposed, the Machine reset, and a new scope composed for it.
using Microsoft.Extensions.DependencyInjection;
using Pv.Engine;

namespace Pv.Hosting.Composition;

/// <summary>A simulated machine running one backend, with the DI scope it was composed in.</summary>
public sealed class PvMachine : IDisposable
{
    private IServiceScope _scope;

    internal PvMachine(Machine machine, IServiceScope scope, ResolvedBackend backend)
    {
        Machine = machine;
        Services = scope.ServiceProvider;
        Backend = backend;
        _scope = scope;
    }

    /// <summary>The engine's machine. Its <see cref="Machine.PvOps"/> is the counting decorator around the plugin's ops.</summary>
    public Machine Machine { get; }

    /// <summary>This machine's services: the engine's host services for <see cref="Machine"/> and the backend's plugin services.</summary>
    public IServiceProvider Services { get; private set; }

    /// <summary>The backend the machine runs.</summary>
    public ResolvedBackend Backend { get; }

    /// <summary>
    /// The machine as <see cref="BackendHost.CreateMachine"/> would make it again: the scope is disposed (so no plugin object
    /// lives on into the next run), the engine machine reset (<see cref="Machine.Reset"/>), and a new scope attached.
    /// </summary>
    /// <exception cref="PluginCompositionException">Resolving the plugin's services threw; the machine is unusable.</exception>
    public void Reset()
    {
        _scope.Dispose();
        Machine.Reset();
        _scope = Backend.Host.Attach(Machine);
        Services = _scope.ServiceProvider;
    }

    /// <summary>Disposes the machine's scope (and with it every disposable plugin object it created).</summary>
    public void Dispose() => _scope.Dispose();
}
