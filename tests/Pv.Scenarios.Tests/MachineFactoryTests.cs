// The per-search machine factory must give every machine its own plugin objects wired to its own host
// services, exactly as PvMachine.Create does, while composing the backend only once.
using Pv.Engine;
using Pv.Hosting.Composition;
using Pv.Scenarios.Litmus;

namespace Pv.Scenarios.Tests;

public sealed class MachineFactoryTests
{
    [Theory]
    [InlineData("x86-native")]
    [InlineData("xen-pv")]
    [InlineData("uml")]
    public void Every_machine_gets_its_own_plugin_objects_counting_into_its_own_metrics(string backend)
    {
        var factory = new MachineFactory(ZooTests.Catalog.Value.Backend(backend));
        var machines = Enumerable.Range(0, 3).Select(_ => factory.Create(new MachineOptions())).ToList();
        try
        {
            var ops = machines.Select(m => (CountingPvMmuOps)m.Machine.PvOps).ToList();
            Assert.Equal(3, ops.Select(o => o.Inner).Distinct().Count());
            Assert.Equal(3, machines.Select(m => m.Machine.Arch).Distinct().Count());
            ops[2].FlushTlbUser();
            Assert.Equal(1, machines[2].Machine.Metrics.Counter(CountingPvMmuOps.Prefix + "flush_tlb_user").Value);
            Assert.Equal(0, machines[1].Machine.Metrics.Counter(CountingPvMmuOps.Prefix + "flush_tlb_user").Value);
        }
        finally
        {
            foreach (var (_, services) in machines) services.Dispose();
        }
    }
}
