// How one backend's plugin joins a machine's service collection, in this order:
//   1. Scrutor scan of the plugin assembly: every class implementing IPvMmuOps, IArchMmu, ISecondaryMmu or
//      IMmuNotifier, without [PvArch] or with [PvArch] listing the backend's arch profile, as a singleton
//      under each interface it implements;
//   2. IPvPlugin.Register with the backend's options (plugin options < backend options, plus archProfile),
//      so a registration made there overrides the scanned one;
//   3. a check that the plugin provided a whole backend: IPvMmuOps and IArchMmu, or only an ISecondaryMmu
//      (Scrutor skips silently a class whose dependencies fail to load, so an empty scan must be reported);
//   4. the engine's CostModel with the backend's overrides (the backend's declared costs reach it through ICost);
//   5. Scrutor Decorate of IPvMmuOps with the counting decorator.
// Every failure is a PluginCompositionException naming the plugin and the backend.
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Abstractions.Plugins;

namespace Pv.Hosting.Composition;

/// <summary>Adds a backend's plugin services to a machine's service collection.</summary>
public static class PvBackendServiceCollectionExtensions
{
    /// <summary>The contract interfaces the scan registers from a plugin assembly.</summary>
    public static IReadOnlyList<Type> ScannedContracts { get; } =
        [typeof(IPvMmuOps), typeof(IArchMmu), typeof(ISecondaryMmu), typeof(IMmuNotifier)];

    /// <summary>
    /// Adds <paramref name="backend"/>'s plugin services (scan, Register, CostModel, counting decorator). Call it after
    /// the host services are registered: the plugin's classes depend on them.
    /// </summary>
    /// <exception cref="PluginCompositionException">The scan or Register failed, or the plugin provided no backend.</exception>
    public static IServiceCollection AddPvBackend(this IServiceCollection services, ResolvedBackend backend)
    {
        string plugin = backend.Plugin.Name, archProfile = backend.ArchProfile;
        PluginCompositionException Fail(string reason, Exception? inner = null) => new(plugin, backend.Name, reason, inner);

        try
        {
            services.Scan(scan => scan
                .FromAssemblies(backend.Plugin.Assembly)
                .AddClasses(classes => classes
                    .AssignableToAny([.. ScannedContracts])
                    .Where(type => ServesArchProfile(type, archProfile)), publicOnly: false)
                .AsImplementedInterfaces()
                .WithSingletonLifetime());
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw Fail($"scanning {backend.Plugin.Assembly.GetName().Name} threw {e.GetType().Name}: {e.Message}", e);
        }

        var options = new ConfigurationBuilder().AddInMemoryCollection(backend.Options!).Build();
        var entryType = backend.Plugin.Instance.GetType().FullName;
        try
        {
            backend.Plugin.Instance.Register(services, options);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw Fail($"{entryType}.Register threw {e.GetType().Name}: {e.Message}", e);
        }

        bool ops = services.Any(d => d.ServiceType == typeof(IPvMmuOps));
        bool arch = services.Any(d => d.ServiceType == typeof(IArchMmu));
        bool secondary = services.Any(d => d.ServiceType == typeof(ISecondaryMmu));
        if (!(ops && arch) && !(secondary && !ops && !arch))
        {
            string missing = ops ? "IArchMmu" : arch ? "IPvMmuOps" : "IPvMmuOps and IArchMmu";
            throw Fail($"the plugin provided no {missing} for arch profile '{archProfile}'; a backend needs both (or only an ISecondaryMmu). " +
                $"Check that the classes implementing them are in {backend.Plugin.Assembly.GetName().Name}, are not abstract, carry no [PvArch] " +
                $"or one listing '{archProfile}', and that their dependencies load (the scan skips classes that fail to load), or register them in {entryType}.Register");
        }

        services.AddSingleton(backend.Costs.Engine);
        if (ops) services.Decorate<IPvMmuOps, CountingPvMmuOps>();
        return services;
    }

    /// <summary>True if <paramref name="type"/> has no <see cref="PvArchAttribute"/> or one that lists <paramref name="archProfile"/>.</summary>
    public static bool ServesArchProfile(Type type, string archProfile) =>
        type.GetCustomAttribute<PvArchAttribute>() is not { } arch || arch.ArchProfiles.Contains(archProfile, StringComparer.Ordinal);
}
