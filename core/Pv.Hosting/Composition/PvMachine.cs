// One composed simulated machine: a fresh engine Machine and the DI scope of its backend's host that serves
// it (the engine's host services for that Machine plus the backend's plugin objects, all its own). Two
// PvMachines never share a Machine, a scope or a plugin object; they share the backend's root provider.
// Created only by BackendHost.CreateMachine.
using Pv.Engine;

namespace Pv.Hosting.Composition;

/// <summary>A simulated machine running one backend, with the DI scope it was composed in.</summary>
public sealed class PvMachine : IDisposable
{
    private readonly IDisposable _scope;

    internal PvMachine(Machine machine, Microsoft.Extensions.DependencyInjection.IServiceScope scope, ResolvedBackend backend)
    {
        Machine = machine;
        Services = scope.ServiceProvider;
        Backend = backend;
        _scope = scope;
    }

    /// <summary>The engine's machine. Its <see cref="Machine.PvOps"/> is the counting decorator around the plugin's ops.</summary>
    public Machine Machine { get; }

    /// <summary>This machine's services: the engine's host services for <see cref="Machine"/> and the backend's plugin services.</summary>
    public IServiceProvider Services { get; }

    /// <summary>The backend the machine runs.</summary>
    public ResolvedBackend Backend { get; }

    /// <summary>Disposes the machine's scope (and with it every disposable plugin object it created).</summary>
    public void Dispose() => _scope.Dispose();
}
