// Composing a machine per schedule, fast. PvMachine.Create scans the plugin assembly (Scrutor), runs the
// plugin's Register and validates the provider every time: about half a millisecond, which caps a search at
// ~1,000 schedules/s. A search builds thousands of machines of one backend, so this factory composes the
// backend once (the first machine goes through PvMachine.Create itself, so every check and error of Hosting
// applies) and keeps that service collection as a template. From it, one root provider per search registers
// the plugin's services as scoped and the engine's host services as scoped lookups in a per-scope holder;
// each further machine is one scope whose holder points at the new Machine. Every plugin class and factory
// is therefore instantiated anew per machine, exactly as with PvMachine.Create, without building a provider
// per schedule; only instances the plugin's Register added as ready-made objects (its options records) are
// shared between the machines of one search. The backend's cost model and kernel era are applied to every
// machine as PvMachine.Create does.
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine;
using Pv.Engine.Host;
using Pv.Hosting;
using Pv.Hosting.Composition;

namespace Pv.Scenarios.Litmus;

/// <summary>Composes machines of one backend, reusing the plugin's registrations.</summary>
public sealed class MachineFactory
{
    private readonly ResolvedBackend _backend;
    private ServiceProvider? _root;

    /// <summary>A factory for <paramref name="backend"/>.</summary>
    public MachineFactory(ResolvedBackend backend) => _backend = backend;

    /// <summary>
    /// A new machine with the backend attached and its provider (dispose it with the machine). The first call
    /// composes through <see cref="PvMachine.Create"/> and may throw its <see cref="PluginCompositionException"/>.
    /// </summary>
    public (Machine Machine, IDisposable Services) Create(MachineOptions options)
    {
        if (_root is null)
        {
            var first = PvMachine.Create(_backend, options);
            Remember(first.Machine);
            return (first.Machine, first);
        }
        var machine = new Machine(_backend.MachineOptionsFor(options));
        var scope = Compose(machine);
        var provider = scope.ServiceProvider;
        if (provider.GetService<IPvMmuOps>() is { } pvOps)
            machine.AttachBackend(provider.GetRequiredService<IArchMmu>(), pvOps);
        else
            provider.GetRequiredService<ISecondaryMmu>();
        return (machine, scope);
    }

    /// <summary>
    /// The backend's services composed onto an existing <paramref name="machine"/> (a secondary-MMU backend next to the
    /// machine's own); dispose the scope with the machine. The first call goes through <see cref="MachineComposition.Build"/>.
    /// </summary>
    public IServiceScope ComposeOnto(Machine machine)
    {
        if (_root is not null) return Compose(machine);
        var provider = MachineComposition.Build(_backend, s => s.AddPvEngine(machine));
        Remember(machine);
        return new OwnedScope(provider);
    }

    private void Remember(Machine probe)
    {
        var host = new ServiceCollection().AddPvEngine(probe).Select(d => d.ServiceType).ToHashSet();
        var template = new ServiceCollection().AddPvEngine(probe).AddPvBackend(_backend);
        IServiceCollection services = new ServiceCollection();
        services.AddScoped<MachineHolder>();
        foreach (var type in host)
            services.Add(ServiceDescriptor.Describe(type, sp => sp.GetRequiredService<MachineHolder>().Get(type), ServiceLifetime.Scoped));
        foreach (var d in template.Where(d => !host.Contains(d.ServiceType)))
        {
            // Ready-made instances stay shared; everything the container constructs becomes per machine (scoped).
            // Scrutor's Decorate keeps the decorated registration under a service key.
            if (d.IsKeyedService)
            {
                if (d.KeyedImplementationInstance is not null) services.Add(d);
                else if (d.KeyedImplementationFactory is { } keyedFactory) services.Add(ServiceDescriptor.DescribeKeyed(d.ServiceType, d.ServiceKey, keyedFactory, ServiceLifetime.Scoped));
                else services.Add(ServiceDescriptor.DescribeKeyed(d.ServiceType, d.ServiceKey, d.KeyedImplementationType!, ServiceLifetime.Scoped));
            }
            else if (d.ImplementationInstance is not null) services.Add(d);
            else if (d.ImplementationFactory is { } factory) services.Add(ServiceDescriptor.Describe(d.ServiceType, factory, ServiceLifetime.Scoped));
            else services.Add(ServiceDescriptor.Describe(d.ServiceType, d.ImplementationType!, ServiceLifetime.Scoped));
        }
        _root = services.BuildServiceProvider();
    }

    private IServiceScope Compose(Machine machine)
    {
        var scope = _root!.CreateScope();
        scope.ServiceProvider.GetRequiredService<MachineHolder>().Set(machine);
        return scope;
    }

    /// <summary>The machine a scope serves, and its host services by type.</summary>
    private sealed class MachineHolder
    {
        private Dictionary<Type, object>? _services;

        public void Set(Machine machine) =>
            _services = new ServiceCollection().AddPvEngine(machine).ToDictionary(d => d.ServiceType, d => d.ImplementationInstance!);

        public object Get(Type type) => _services![type];
    }

    /// <summary>The first composition's provider, owned as a scope so both paths hand out the same type.</summary>
    private sealed class OwnedScope(ServiceProvider provider) : IServiceScope
    {
        public IServiceProvider ServiceProvider => provider;
        public void Dispose() => provider.Dispose();
    }
}
