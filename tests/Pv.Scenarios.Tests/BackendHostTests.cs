// The shipped plugins under the one composition root: every machine of a backend, however many a run
// builds, gets its own plugin objects wired to its own host services; what the backend shares between its
// machines (the singletons a plugin registers itself) holds no state a machine could change.
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Pv.Engine;
using Pv.Hosting.Composition;

namespace Pv.Scenarios.Tests;

public sealed class BackendHostTests
{
    public static TheoryData<string> Backends() => [.. ZooTests.Catalog.Value.Backends.Select(b => b.Name)];

    [Theory]
    [MemberData(nameof(Backends))]
    public void No_plugin_object_is_shared_between_two_machines(string name)
    {
        var backend = ZooTests.Catalog.Value.Backend(name);
        using var a = backend.Host.CreateMachine(new MachineOptions());
        using var b = backend.Host.CreateMachine(new MachineOptions());
        var seenA = PluginObjects(a, backend.Plugin.Assembly);
        var seenB = PluginObjects(b, backend.Plugin.Assembly);
        Assert.NotEmpty(seenA);
        foreach (var (type, objectA) in seenA)
        {
            var objectB = seenB[type];
            if (!ReferenceEquals(objectA, objectB)) continue;
            // Shared: it must be a singleton the plugin registered, and immutable.
            var mutable = objectA.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).Where(f => !f.IsInitOnly).ToList();
            Assert.True(mutable.Count == 0, $"{objectA.GetType().Name}, shared by two machines of {name}, has mutable fields: {string.Join(", ", mutable.Select(f => f.Name))}");
        }
        if (a.Machine.HasCpuBackend)
        {
            Assert.NotSame(a.Machine.PvOps, b.Machine.PvOps);
            Assert.NotSame(((CountingPvMmuOps)a.Machine.PvOps).Inner, ((CountingPvMmuOps)b.Machine.PvOps).Inner);
            Assert.NotSame(a.Machine.Arch, b.Machine.Arch);
            ((CountingPvMmuOps)b.Machine.PvOps).FlushTlbUser();
            Assert.Equal(1, b.Machine.Metrics.Counter(CountingPvMmuOps.Prefix + "flush_tlb_user").Value);
            Assert.Equal(0, a.Machine.Metrics.Counter(CountingPvMmuOps.Prefix + "flush_tlb_user").Value);
        }
    }

    /// <summary>Every object the machine's scope gives for a contract interface or for a class of the plugin assembly.</summary>
    private static Dictionary<(Type, int), object> PluginObjects(PvMachine machine, Assembly plugin)
    {
        var found = new Dictionary<(Type, int), object>();
        foreach (var contract in PvBackendServiceCollectionExtensions.ScannedContracts)
            foreach (var (o, i) in machine.Services.GetServices(contract).Select((o, i) => (o, i)))
                found[(contract, i)] = o!;
        foreach (var type in plugin.GetTypes().Where(t => t.IsClass && !t.IsAbstract && !t.ContainsGenericParameters))
            if (machine.Services.GetService(type) is { } o) found[(type, 0)] = o;
        return found;
    }
}
