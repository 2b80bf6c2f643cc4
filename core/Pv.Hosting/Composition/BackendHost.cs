// The one composition root of Pv. A BackendHost is built once per resolved backend (ResolvedBackend.Host):
// one root ServiceProvider holding the engine's host services (scoped, see AddPvEngine) and the backend's
// plugin services (AddPvBackend: the scan, then IPvPlugin.Register, run here and only here), validated on
// build so a missing dependency or a singleton that captures a machine's service is reported, with the
// plugin's and the backend's names, before any machine exists; the plugin's options are validated then too
// (PluginOptionsValidation), located at the option in plugins.json. Every machine is one DI scope of that root,
// bound to its own engine Machine: every plugin object a scope resolves is that machine's alone (only
// singletons the plugin registers itself, such as its options, are shared, and those cannot reach a
// machine). Exploration, A/B, zoo, replay, soak, the start-up check and the tests all compose here.
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine;
using Pv.Engine.Host;

namespace Pv.Hosting.Composition;

/// <summary>A backend composed once; each machine running it is a DI scope of its root provider.</summary>
public sealed class BackendHost : IDisposable
{
    private readonly ServiceProvider _root;

    private BackendHost(ResolvedBackend backend, ServiceProvider root, bool cpuMmu)
    {
        Backend = backend;
        _root = root;
        ProvidesCpuMmu = cpuMmu;
    }

    /// <summary>The backend.</summary>
    public ResolvedBackend Backend { get; }

    /// <summary>True for a CPU backend (IPvMmuOps and IArchMmu); false for a secondary-MMU backend (only an ISecondaryMmu).</summary>
    public bool ProvidesCpuMmu { get; }

    /// <summary>
    /// Composes <paramref name="backend"/>: the engine's host services, then its plugin services, validated on build.
    /// <see cref="ResolvedBackend.Host"/> calls this once per backend; call it directly only to test composition.
    /// </summary>
    /// <param name="backend">The backend, from <see cref="PluginCatalog.Backends"/>.</param>
    /// <param name="alterHostServices">Changes the host services before the plugin's are added (tests remove one to check validation).</param>
    /// <exception cref="PluginCompositionException">The plugin could not be composed or a registration cannot be satisfied.</exception>
    /// <exception cref="PluginOptionsException">The plugin's validation refused an option value of plugins.json.</exception>
    internal static BackendHost Build(ResolvedBackend backend, Action<IServiceCollection>? alterHostServices = null)
    {
        var services = new ServiceCollection().AddPvEngine();
        alterHostServices?.Invoke(services);
        services.AddPvBackend(backend);
        ServiceProvider root;
        try
        {
            root = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        }
        catch (AggregateException e)
        {
            throw new PluginCompositionException(backend.Plugin.Name, backend.Name,
                "service validation failed: " + string.Join("; ", e.InnerExceptions.Select(i => i.Message)), e);
        }
        catch (InvalidOperationException e)
        {
            throw new PluginCompositionException(backend.Plugin.Name, backend.Name, "service validation failed: " + e.Message, e);
        }
        try
        {
            PluginOptionsValidation.Validate(root, backend);
        }
        catch
        {
            root.Dispose();
            throw;
        }
        return new BackendHost(backend, root, services.Any(d => d.ServiceType == typeof(IPvMmuOps)));
    }

    /// <summary>
    /// A new machine running the backend: a Machine from <paramref name="options"/> with the backend's kernel era and cost
    /// model, a scope bound to it, and the backend attached (<see cref="Machine.AttachBackend"/> with the plugin's
    /// <see cref="IArchMmu"/> and the decorated <see cref="IPvMmuOps"/>). A secondary-MMU backend has its
    /// <see cref="ISecondaryMmu"/> resolved instead and nothing attached.
    /// </summary>
    /// <param name="options">The machine's shape.</param>
    /// <param name="costs">The machine's costs when a scenario overrides the backend's; the backend's when null.</param>
    /// <exception cref="PluginCompositionException">Resolving the plugin's services threw.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (<see cref="MachineOptions.Validate"/>).</exception>
    public PvMachine CreateMachine(MachineOptions options, BackendCosts? costs = null)
    {
        var machine = new Machine(Backend.MachineOptionsFor(options, costs));
        return new PvMachine(machine, Attach(machine), Backend);
    }

    /// <summary>
    /// The backend's services for an existing <paramref name="machine"/>: a new scope bound to it, with the backend
    /// attached as <see cref="CreateMachine"/> does. A secondary-MMU backend (the SMMU of a machine whose CPUs run another
    /// backend) attaches nothing; resolve its <see cref="ISecondaryMmu"/> from the scope. Dispose the scope with the machine.
    /// </summary>
    /// <exception cref="PluginCompositionException">Resolving the plugin's services threw.</exception>
    public IServiceScope Attach(Machine machine)
    {
        var scope = _root.CreateScope();
        try
        {
            var services = scope.ServiceProvider;
            services.GetRequiredService<MachineScope>().Bind(machine);
            if (ProvidesCpuMmu)
                machine.AttachBackend(services.GetRequiredService<IArchMmu>(), services.GetRequiredService<IPvMmuOps>());
            else
                services.GetRequiredService<ISecondaryMmu>();
            return scope;
        }
        catch (Exception e) when (e is not OutOfMemoryException and not EngineBugException)
        {
            scope.Dispose();
            throw new PluginCompositionException(Backend.Plugin.Name, Backend.Name,
                $"resolving the backend's services threw {e.GetType().Name}: {e.Message}", e);
        }
    }

    /// <summary>Disposes the root provider and every singleton the plugin registered.</summary>
    public void Dispose() => _root.Dispose();

    /// <summary>
    /// Composes every backend of <paramref name="catalog"/> (its <see cref="ResolvedBackend.Host"/>, kept for the run) and
    /// creates one machine of each. Returns one diagnostic per backend that failed, naming the plugin and the backend and
    /// located at the backend's entry in plugins.json.
    /// </summary>
    /// <param name="catalog">The loaded plugins.json.</param>
    /// <param name="options">The shape of the machines built; the defaults when null.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (<see cref="MachineOptions.Validate"/>).</exception>
    public static IReadOnlyList<PvDiagnostic> StartupCheck(PluginCatalog catalog, MachineOptions? options = null)
    {
        options ??= new MachineOptions();
        var diagnostics = new List<PvDiagnostic>();
        foreach (var backend in catalog.Backends)
        {
            try
            {
                using var machine = backend.Host.CreateMachine(options);
            }
            catch (PluginCompositionException e)
            {
                diagnostics.Add(new PvDiagnostic(e.Reason, backend.Entry.Location, e.Plugin, e.Backend));
            }
            catch (PluginOptionsException e)
            {
                diagnostics.Add(new PvDiagnostic(e.Reason, e.Location, e.Plugin, e.Backend));
            }
        }
        return diagnostics;
    }
}
