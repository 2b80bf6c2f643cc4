// One composed simulated machine: a fresh engine Machine whose cost model is the backend's (plugins.json
// overrides applied), its own ServiceProvider holding the engine's host services for that Machine plus the
// backend's plugin services, and the backend attached to the Machine through the decorated IPvMmuOps. Two
// PvMachines never share a Machine, a provider or a plugin service instance, only the loaded plugin assembly.
// Every plugin failure (composition, validation, a constructor that throws) is a PluginCompositionException
// naming the plugin and the backend; the provider is disposed before it propagates.
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine;
using Pv.Engine.Host;

namespace Pv.Hosting.Composition;

/// <summary>A simulated machine running one backend, with the service provider it was composed from.</summary>
public sealed class PvMachine : IDisposable
{
    private PvMachine(Machine machine, ServiceProvider services, ResolvedBackend backend)
    {
        Machine = machine;
        Services = services;
        Backend = backend;
    }

    /// <summary>The engine's machine. Its <see cref="Machine.PvOps"/> is the counting decorator around the plugin's ops.</summary>
    public Machine Machine { get; }

    /// <summary>This machine's services: the engine's host services for <see cref="Machine"/> and the backend's plugin services.</summary>
    public ServiceProvider Services { get; }

    /// <summary>The backend the machine runs.</summary>
    public ResolvedBackend Backend { get; }

    /// <summary>
    /// Builds a machine from <paramref name="options"/> with the backend's cost model, composes its provider and
    /// attaches the backend: <see cref="Machine.AttachBackend"/> with the plugin's <see cref="IArchMmu"/> and the
    /// decorated <see cref="IPvMmuOps"/>. A secondary-MMU-only backend (an <see cref="ISecondaryMmu"/>, no
    /// <see cref="IPvMmuOps"/>) has its <see cref="ISecondaryMmu"/> resolved instead and nothing attached: its
    /// <see cref="Machine.Arch"/> and <see cref="Machine.PvOps"/> stay unset.
    /// </summary>
    /// <param name="backend">The backend, from <see cref="PluginCatalog.Backends"/>.</param>
    /// <param name="options">The machine's shape; its <see cref="MachineOptions.Cost"/> is replaced by <see cref="ResolvedBackend.Costs"/>.</param>
    /// <exception cref="PluginCompositionException">The plugin could not be composed, or resolving its services threw.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (<see cref="MachineOptions.Validate"/>).</exception>
    public static PvMachine Create(ResolvedBackend backend, MachineOptions options)
    {
        var machine = new Machine(backend.MachineOptionsFor(options));
        var services = MachineComposition.Build(backend, s => s.AddPvEngine(machine));
        try
        {
            if (services.GetService<IPvMmuOps>() is { } pvOps)
                machine.AttachBackend(services.GetRequiredService<IArchMmu>(), pvOps);
            else
                services.GetRequiredService<ISecondaryMmu>();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            services.Dispose();
            throw new PluginCompositionException(backend.Plugin.Name, backend.Name,
                $"resolving the backend's services threw {e.GetType().Name}: {e.Message}", e);
        }
        return new PvMachine(machine, services, backend);
    }

    /// <summary>Disposes <see cref="Services"/> (and with it every disposable plugin service).</summary>
    public void Dispose() => Services.Dispose();
}
