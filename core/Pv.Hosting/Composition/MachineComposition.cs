// Each simulated machine is its own ServiceProvider: the host services the caller registers, then the
// backend's plugin services (AddPvBackend), validated on build so a missing dependency is reported before
// any step runs. Two machines (an A/B pair) are two providers that share nothing but the plugin assembly.
// The start-up check builds every configured backend once and resolves its entry services, so a broken
// plugin fails at start with its name rather than in the middle of a run.
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;

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
            return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
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
    /// Builds every backend of <paramref name="catalog"/> once and resolves its IPvMmuOps and IArchMmu (or its
    /// ISecondaryMmu). Returns one diagnostic per backend that failed, naming the plugin and the backend.
    /// </summary>
    public static IReadOnlyList<PvDiagnostic> StartupCheck(PluginCatalog catalog, Action<IServiceCollection> addHostServices)
    {
        var diagnostics = new List<PvDiagnostic>();
        foreach (var backend in catalog.Backends)
        {
            try
            {
                using var machine = Build(backend, addHostServices);
                ResolveEntryServices(machine);
            }
            catch (PluginCompositionException e)
            {
                diagnostics.Add(new PvDiagnostic(e.Reason, backend.Entry.Location, e.Plugin, e.Backend));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                diagnostics.Add(new PvDiagnostic($"resolving the backend's services threw {e.GetType().Name}: {e.Message}",
                    backend.Entry.Location, backend.Plugin.Name, backend.Name));
            }
        }
        return diagnostics;
    }

    /// <summary>Resolves what the engine resolves first: IPvMmuOps and IArchMmu, or a secondary MMU's ISecondaryMmu.</summary>
    private static void ResolveEntryServices(IServiceProvider machine)
    {
        if (machine.GetService<IPvMmuOps>() is null)
        {
            machine.GetRequiredService<ISecondaryMmu>();
            return;
        }
        machine.GetRequiredService<IArchMmu>();
    }
}
