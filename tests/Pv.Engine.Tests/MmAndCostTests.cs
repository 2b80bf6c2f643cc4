using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Engine.Mm;

namespace Pv.Engine.Tests;

public class MmAndCostTests
{
    [Fact]
    public void Counters_are_listed_by_name_whatever_order_they_were_created_in()
    {
        var metrics = new Pv.Engine.Metrics.MachineMetrics();
        var z = metrics.Counter("zz.plugin");
        metrics.Counter("aa.plugin").Increment();
        z.Add(2);
        var names = metrics.All.Select(c => c.Name).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        Assert.Same(z, metrics.Counter("zz.plugin"));
        Assert.Equal((1, 2), (metrics.All.Single(c => c.Name == "aa.plugin").Value, metrics.All.Single(c => c.Name == "zz.plugin").Value));
        metrics.Counter("mm.plugin");
        Assert.Equal(metrics.All.Select(c => c.Name).Order(StringComparer.Ordinal), metrics.All.Select(c => c.Name));
    }

    [Fact]
    public void Vmas_stay_sorted_overlaps_are_refused_and_file_vmas_join_i_mmap()
    {
        var t = new TestMachine();
        var file = new AddressSpace("dev");
        t.Mm.InsertVma(new Vma(t.Mm, 0x3000, 0x4000, VmaFlags.Read));
        t.Mm.InsertVma(new Vma(t.Mm, 0x1000, 0x2000, VmaFlags.Read | VmaFlags.PfnMap, file));
        Assert.Equal([0x1000UL, 0x3000UL], t.Mm.Vmas.Select(v => v.Start));
        Assert.Throws<ProgramException>(() => t.Mm.InsertVma(new Vma(t.Mm, 0x1800, 0x3800, VmaFlags.Read)));
        Assert.Single(file.IMmap);
        Assert.Same(t.Mm.Vmas[0], t.Mm.FindVma(0x1fff));
        Assert.Null(t.M.InitMm.FindVma(0x1000));
        Assert.Null(t.Mm.FindVma(0x2000));
    }

    [Fact]
    public void Cost_figures_come_from_the_machine_options_so_a_backend_can_override_them()
    {
        var cheap = new Machine(new MachineOptions { Cpus = 2, Cost = new CostModel { IpiInitiator = 1, IpiTargetInterrupt = 2 } });
        var mm = cheap.CreateMm();
        var th = cheap.AddThread("sender", Sched.ThreadKind.User, 0, mm);
        th.Enqueue(TestMachine.Do(() => cheap.Ipi.SendIpi(CpuMask.Of(1), _ => { }, wait: true)));
        cheap.Run(new Sched.SequentialPolicy());
        Assert.Equal(1, cheap.Cost.Charged(0));
        Assert.Equal(2, cheap.Cost.Charged(1));
        Assert.Equal(3, cheap.Cost.Total);
    }

    [Fact]
    public void Machine_options_out_of_range_are_refused_with_the_option_named()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new Machine(new MachineOptions { Cpus = 300 }));
        Assert.Equal("Cpus", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Machine(new MachineOptions { PagingLevels = 3 }));
        var m = new Machine(new MachineOptions { Cpus = 2 });
        Assert.Throws<ArgumentOutOfRangeException>(() => m.AddThread("x", Sched.ThreadKind.User, 2, null));
    }
}
