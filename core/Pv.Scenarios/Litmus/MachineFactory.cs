// Composing a machine per schedule, fast. PvMachine.Create scans the plugin assembly (Scrutor), runs the
// plugin's Register and validates the provider every time: about half a millisecond, which caps a search at
// ~1,000 schedules/s. A search builds thousands of machines of one backend, so this factory composes the
// backend once (the first machine goes through PvMachine.Create itself, so every check and error of Hosting
// applies), keeps that service collection as a template, and per machine builds a provider from the
// template with the engine's host services re-registered for the new Machine. Every plugin class and
// factory is therefore instantiated anew per machine, exactly as with PvMachine.Create; only instances the
// plugin's Register added as ready-made objects (its options records) are shared between the machines of
// one search. The backend's cost model is applied to the machine as PvMachine.Create does.
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
    private ServiceDescriptor[]? _plugin;
    private HashSet<Type>? _host;

    /// <summary>A factory for <paramref name="backend"/>.</summary>
    public MachineFactory(ResolvedBackend backend) => _backend = backend;

    /// <summary>
    /// A new machine with the backend attached and its provider (dispose it with the machine). The first call
    /// composes through <see cref="PvMachine.Create"/> and may throw its <see cref="PluginCompositionException"/>.
    /// </summary>
    public (Machine Machine, IDisposable Services) Create(MachineOptions options)
    {
        if (_plugin is null)
        {
            var first = PvMachine.Create(_backend, options);
            Remember(first.Machine);
            return (first.Machine, first);
        }
        var machine = new Machine(_backend.MachineOptionsFor(options));
        var provider = Compose(machine);
        if (provider.GetService<IPvMmuOps>() is { } pvOps)
            machine.AttachBackend(provider.GetRequiredService<IArchMmu>(), pvOps);
        else
            provider.GetRequiredService<ISecondaryMmu>();
        return (machine, provider);
    }

    /// <summary>
    /// The backend's services composed onto an existing <paramref name="machine"/> (a secondary-MMU backend next to the
    /// machine's own). The first call goes through <see cref="MachineComposition.Build"/>.
    /// </summary>
    public ServiceProvider ComposeOnto(Machine machine)
    {
        if (_plugin is not null) return Compose(machine);
        var provider = MachineComposition.Build(_backend, s => s.AddPvEngine(machine));
        Remember(machine);
        return provider;
    }

    private void Remember(Machine probe)
    {
        _host = new ServiceCollection().AddPvEngine(probe).Select(d => d.ServiceType).ToHashSet();
        var template = new ServiceCollection().AddPvEngine(probe).AddPvBackend(_backend);
        _plugin = template.Where(d => !_host.Contains(d.ServiceType)).ToArray();
    }

    private ServiceProvider Compose(Machine machine)
    {
        var services = new ServiceCollection().AddPvEngine(machine);
        foreach (var d in _plugin!) services.Add(d);
        return services.BuildServiceProvider();
    }
}
