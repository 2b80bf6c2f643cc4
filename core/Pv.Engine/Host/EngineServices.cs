// The host services a plugin may ask for, registered into a machine's service collection. Each is a
// facade over the one Machine the provider belongs to, so a plugin resolved from that provider can only
// ever touch its own machine.
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Host;
using Pv.Abstractions.Notifiers;

namespace Pv.Engine.Host;

/// <summary>Registration of the engine's host services.</summary>
public static class EngineServiceCollectionExtensions
{
    /// <summary>Register <paramref name="machine"/> and every host service of the contract, backed by it.</summary>
    public static IServiceCollection AddPvEngine(this IServiceCollection services, Machine machine)
    {
        services.AddSingleton(machine);
        services.AddSingleton<ICpus>(machine.Cpus);
        services.AddSingleton<IIpi>(machine.Ipi);
        services.AddSingleton<IHypervisor>(machine.Hypervisor);
        services.AddSingleton<IRcu>(machine.Rcu);
        services.AddSingleton<IWaits>(machine.Waits);
        services.AddSingleton<IFrames>(machine.Memory);
        services.AddSingleton<IPageTables>(machine.PageTables);
        services.AddSingleton<IHostMappings>(machine.HostMappings);
        services.AddSingleton<IDeviceDmaPort>(machine.Devices);
        services.AddSingleton<IMetrics>(machine.Metrics);
        services.AddSingleton<ICost>(machine.Cost);
        services.AddSingleton<IMmuNotifierRegistry>(machine.Notifiers);
        return services;
    }
}
