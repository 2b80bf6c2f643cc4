// Each simulated machine is its own ServiceProvider: the host services the caller registers, then the
// backend's plugin services (AddPvBackend), validated on build so a missing dependency is reported before
// any step runs. Two machines (an A/B pair) are two providers that share nothing but the plugin assembly.
// The start-up check composes every configured backend once into a real machine (PvMachine), so a broken
// plugin fails at start with its name rather than in the middle of a run.
using Microsoft.Extensions.DependencyInjection;
using Pv.Engine;

namespace Pv.Hosting.Composition;

/// <summary>Builds machines' service providers from resolved backends.</summary>
public static class MachineComposition
{
    /// <summary>
    /// Builds the service provider of one machine running <paramref name="backend"/>.
    /// </summary>
    /// <param name="backend">The backend, from <see cref="PluginCatalog.Backends"/>.</param>
    /// <param name="addHostServices">
    /// Registers the engine's host services (ICpus, IIpi, IHypervisor, IRcu, IWaits, IFrames, IPageTables, IHostMappings,
    /// IDeviceDmaPort, IMetrics, ICost, IMmuNotifierRegistry) for this machine.
    /// </param>
    /// <exception cref="PluginCompositionException">The plugin could not be composed or a registration cannot be satisfied.</exception>
    public static ServiceProvider Build(ResolvedBackend backend, Action<IServiceCollection> addHostServices)
    {
        var services = new ServiceCollection();
        addHostServices(services);
        services.AddPvBackend(backend);
        try
        {
            var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
            PluginOptionsValidation.Validate(provider, backend);
            return provider;
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
    }

    /// <summary>
    /// Composes every backend of <paramref name="catalog"/> once into a fresh <see cref="PvMachine"/> (the engine's
    /// real host services, one new Machine per backend) and disposes it. Returns one diagnostic per backend that
    /// failed, naming the plugin and the backend and located at the backend's entry in plugins.json.
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
                using var machine = PvMachine.Create(backend, options);
            }
            catch (PluginCompositionException e)
            {
                diagnostics.Add(new PvDiagnostic(e.Reason, e.Location ?? backend.Entry.Location, e.Plugin, e.Backend));
            }
        }
        return diagnostics;
    }
}
