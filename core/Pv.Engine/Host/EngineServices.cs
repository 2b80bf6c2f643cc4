// The host services a plugin may ask for, registered as scoped services: one DI scope serves one Machine
// (bound with MachineScope.Bind right after the scope is created), and every host service resolved in that
// scope is a facade over that Machine, so a plugin object resolved in a machine's scope can only ever touch
// its own machine. A singleton that asked for one would be rejected when the provider is validated.
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Host;
using Pv.Abstractions.Notifiers;

namespace Pv.Engine.Host;

/// <summary>The machine one DI scope serves.</summary>
public sealed class MachineScope
{
    private Machine? _machine;

    /// <summary>The machine; bound once per scope before anything in it is resolved.</summary>
    /// <exception cref="EngineBugException">Nothing was bound: the scope was created without a machine.</exception>
    public Machine Machine => _machine ?? throw new EngineBugException("a machine's service scope was used before a Machine was bound to it");

    /// <summary>Binds this scope to <paramref name="machine"/>.</summary>
    /// <exception cref="EngineBugException">The scope already serves a machine.</exception>
    public void Bind(Machine machine)
    {
        if (_machine is not null) throw new EngineBugException("a machine's service scope was bound twice");
        _machine = machine;
    }
}

/// <summary>Registration of the engine's host services.</summary>
public static class EngineServiceCollectionExtensions
{
    /// <summary>
    /// Register every host service of the contract (and <see cref="Machine"/> itself) as scoped, backed by the machine
    /// the scope's <see cref="MachineScope"/> is bound to.
    /// </summary>
    public static IServiceCollection AddPvEngine(this IServiceCollection services)
    {
        services.AddScoped<MachineScope>();
        services.AddScoped(sp => sp.GetRequiredService<MachineScope>().Machine);
        services.AddScoped<ICpus>(sp => sp.GetRequiredService<Machine>().Cpus);
        services.AddScoped<IIpi>(sp => sp.GetRequiredService<Machine>().Ipi);
        services.AddScoped<IHypervisor>(sp => sp.GetRequiredService<Machine>().Hypervisor);
        services.AddScoped<IFirmware>(sp => sp.GetRequiredService<Machine>().Firmware);
        services.AddScoped<IStealTime>(sp => sp.GetRequiredService<Machine>().StealTime);
        services.AddScoped<IRcu>(sp => sp.GetRequiredService<Machine>().Rcu);
        services.AddScoped<IWaits>(sp => sp.GetRequiredService<Machine>().Waits);
        services.AddScoped<IFrames>(sp => sp.GetRequiredService<Machine>().Memory);
        services.AddScoped<IPageTables>(sp => sp.GetRequiredService<Machine>().PageTables);
        services.AddScoped<IHostMappings>(sp => sp.GetRequiredService<Machine>().HostMappings);
        services.AddScoped<IDeviceDmaPort>(sp => sp.GetRequiredService<Machine>().Devices);
        services.AddScoped<IMetrics>(sp => sp.GetRequiredService<Machine>().Metrics);
        services.AddScoped<ICost>(sp => sp.GetRequiredService<Machine>().Cost);
        services.AddScoped<IMmuNotifierRegistry>(sp => sp.GetRequiredService<Machine>().Notifiers);
        return services;
    }
}
