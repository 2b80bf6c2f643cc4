// How one backend's plugin joins its BackendHost's service collection (once per backend), in this order:
//   1. Scrutor scan of the plugin assembly: every class implementing IPvMmuOps, IArchMmu, ISecondaryMmu or
//      IMmuNotifier, without [PvArch] or with [PvArch] listing the backend's arch profile, as a scoped
//      service (one per machine) under each interface it implements;
//   2. IPvPlugin.Register with the backend's options (plugin options < backend options, plus archProfile),
//      so a registration made there overrides the scanned one;
//   3. a check that the plugin provided a whole backend: IPvMmuOps and IArchMmu, or only an ISecondaryMmu
//      (Scrutor skips silently a class whose dependencies fail to load, so an empty scan must be reported),
//      and that none of them is a singleton (one object would serve every machine of the backend);
//   4. the machine's PluginBoundary (scoped, named after the plugin and the backend) and the decorators that
//      put every call into plugin code behind it: IPvMmuOps with the counting decorator, IArchMmu, ISecondaryMmu,
//      and the host services a plugin hands callbacks to (IIpi, IRcu, IWaits, ICpus' broadcast observers, the
//      mmu notifier registry), so a throw from the plugin is a plugin fault naming the operation (Decoration:
//      the decorators' constructors compiled once, as every schedule composes its machine's scope again).
// Every failure is a PluginCompositionException naming the plugin and the backend.
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Abstractions.Plugins;
using Pv.Engine.Host;

namespace Pv.Hosting.Composition;

/// <summary>Adds a backend's plugin services to its <see cref="BackendHost"/>'s service collection.</summary>
public static class PvBackendServiceCollectionExtensions
{
    /// <summary>The contract interfaces the scan registers from a plugin assembly.</summary>
    public static IReadOnlyList<Type> ScannedContracts { get; } =
        [typeof(IPvMmuOps), typeof(IArchMmu), typeof(ISecondaryMmu), typeof(IMmuNotifier)];

    /// <summary>
    /// Adds <paramref name="backend"/>'s plugin services (scan, Register, decorators). Call it after
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
                .WithScopedLifetime());
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

        if (services.FirstOrDefault(d => !d.IsKeyedService && ScannedContracts.Contains(d.ServiceType) && d.Lifetime == ServiceLifetime.Singleton) is { } shared)
            throw Fail($"{shared.ServiceType.Name} is registered as a singleton ({Describe(shared)}), so one object would serve every machine of the " +
                $"backend; register it with AddScoped in {entryType}.Register (every machine is a DI scope)");

        services.AddScoped(sp => new PluginBoundary(plugin, backend.Name, sp.GetRequiredService<MachineScope>()));
        if (ops) services.DecorateWith<IPvMmuOps, CountingPvMmuOps>();
        if (arch) services.DecorateWith<IArchMmu, GuardedArchMmu>();
        if (secondary) services.DecorateWith<ISecondaryMmu, GuardedSecondaryMmu>();
        // TryDecorate: a test may compose without one of the host services, to check that validation names it.
        services.TryDecorateWith<IIpi, GuardedIpi>();
        services.TryDecorateWith<IRcu, GuardedRcu>();
        services.TryDecorateWith<IWaits, GuardedWaits>();
        services.TryDecorateWith<ICpus, GuardedCpus>();
        services.TryDecorateWith<IMmuNotifierRegistry, GuardedNotifierRegistry>();
        return services;
    }

    private static string Describe(ServiceDescriptor d) =>
        d.ImplementationInstance is { } instance ? "a ready-made " + instance.GetType().Name
        : d.ImplementationType is { } type ? type.Name
        : "a factory";

    /// <summary>True if <paramref name="type"/> has no <see cref="PvArchAttribute"/> or one that lists <paramref name="archProfile"/>.</summary>
    public static bool ServesArchProfile(Type type, string archProfile) =>
        type.GetCustomAttribute<PvArchAttribute>() is not { } arch || arch.ArchProfiles.Contains(archProfile, StringComparer.Ordinal);
}
