// Composing machines from real fixture plugins: the scan honours [PvArch], Register's registrations win,
// the counting decorator counts and forwards, validation on build catches a missing host service, and
// every failure names the plugin and the backend.
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Hosting.Composition;

namespace Pv.Hosting.Tests;

public sealed class MachineCompositionTests : IDisposable
{
    private readonly PluginCatalog _catalog = PluginCatalog.Load(Fixtures.WriteConfig(
        string.Join(", ",
            Fixtures.PluginEntry("good", "Good"),
            Fixtures.PluginEntry("private-dep", "PrivateDep"),
            Fixtures.PluginEntry("register-throws", "RegisterThrows"),
            Fixtures.PluginEntry("no-ops", "NoOps"),
            Fixtures.PluginEntry("resolve-throws", "ResolveThrows")),
        """
        { "name": "good-x86", "plugin": "good", "archProfile": "x86", "cost": { "IpiInitiator": 1234 } },
        { "name": "good-arm64", "plugin": "good", "archProfile": "arm64" },
        { "name": "good-registered", "plugin": "good", "archProfile": "x86", "options": { "archMmu": "registered" } },
        { "name": "private-riscv", "plugin": "private-dep", "archProfile": "riscv" },
        { "name": "rt", "plugin": "register-throws", "archProfile": "x86" },
        { "name": "empty", "plugin": "no-ops", "archProfile": "x86" },
        { "name": "late", "plugin": "resolve-throws", "archProfile": "x86" }
        """));

    public void Dispose() => _catalog.Dispose();

    private ServiceProvider Machine(string backend) => MachineComposition.Build(_catalog.Backend(backend), TestHost.Services());

    [Fact]
    public void Catalog_loads_every_fixture()
    {
        Assert.Empty(_catalog.Diagnostics);
    }

    [Theory]
    [InlineData("good-x86", "X86PvMmuOps", "Arm64PvMmuOps")]
    [InlineData("good-arm64", "Arm64PvMmuOps", "X86PvMmuOps")]
    public void Scan_registers_the_class_marked_for_the_arch_profile_and_not_the_other(string backend, string expected, string other)
    {
        using var machine = Machine(backend);
        var ops = Assert.IsType<CountingPvMmuOps>(machine.GetRequiredService<IPvMmuOps>());
        Assert.Equal(expected, ops.Inner.GetType().Name);
        Assert.DoesNotContain(machine.GetServices<IPvMmuOps>(), o => ((CountingPvMmuOps)o).Inner.GetType().Name == other);
        Assert.Single(machine.GetServices<IPvMmuOps>());
    }

    [Fact]
    public void Unmarked_class_serves_every_profile_with_options_bound_by_Register()
    {
        using var x86 = Machine("good-x86");
        using var arm64 = Machine("good-arm64");
        Assert.Same(ArchProfiles.X86, x86.GetRequiredService<IArchMmu>().GatherConfig);
        Assert.Same(ArchProfiles.Arm64, arm64.GetRequiredService<IArchMmu>().GatherConfig);
    }

    [Fact]
    public void Register_override_wins_over_the_scan()
    {
        using var scanned = Machine("good-x86");
        using var registered = Machine("good-registered");
        Assert.Equal("GoodArchMmu", scanned.GetRequiredService<IArchMmu>().GetType().Name);
        Assert.Equal("RegisteredArchMmu", registered.GetRequiredService<IArchMmu>().GetType().Name);
        Assert.Same(ArchProfiles.X86V615, registered.GetRequiredService<IArchMmu>().GatherConfig);
    }

    [Fact]
    public void Decorator_counts_each_call_under_its_kernel_name_and_forwards_it()
    {
        using var machine = Machine("good-x86");
        var ops = machine.GetRequiredService<IPvMmuOps>();
        var metrics = (TestMetrics)machine.GetRequiredService<IMetrics>();

        var cpus = CpuMask.FirstN(3);
        var info = new TlbFlushInfo(new MmId(1), 0x1000, 0x3000, 12, false, 7, 0);
        ops.FlushTlbMulti(cpus, info);
        ops.FlushTlbMulti(cpus, info);
        ops.FlushTlbOneUser(0x1000);
        ops.SwitchMm(MmId.InitMm, new MmId(1));
        ops.ExitMmap(new MmId(1));

        Assert.Equal(2, metrics.Value("pvops.flush_tlb_multi"));
        Assert.Equal(6, metrics.Value("good.x86.flush_tlb_multi"));
        Assert.Equal((1, 1), (metrics.Value("pvops.flush_tlb_one_user"), metrics.Value("good.x86.flush_tlb_one_user")));
        Assert.Equal((1, 1), (metrics.Value("pvops.switch_mm"), metrics.Value("good.x86.switch_mm")));
        Assert.Equal(1, metrics.Value("pvops.exit_mmap"));
        Assert.Equal(0, metrics.Value("pvops.flush_tlb_user"));
        Assert.Equal(21, metrics.All.Count(c => c.Name.StartsWith(CountingPvMmuOps.Prefix, StringComparison.Ordinal)));
    }

    [Fact]
    public void Cost_overrides_reach_the_host_cost_service()
    {
        using var machine = Machine("good-x86");
        var cost = machine.GetRequiredService<ICost>();
        Assert.Equal(1234, cost.Model.IpiInitiator);
        Assert.Same(_catalog.Backend("good-x86").Cost, machine.GetRequiredService<CostModel>());
    }

    [Fact]
    public void Machines_are_independent_providers()
    {
        using var a = Machine("good-x86");
        using var b = Machine("good-x86");
        a.GetRequiredService<IPvMmuOps>().FlushTlbUser();
        Assert.NotSame(a.GetRequiredService<IPvMmuOps>(), b.GetRequiredService<IPvMmuOps>());
        Assert.Equal(1, ((TestMetrics)a.GetRequiredService<IMetrics>()).Value("pvops.flush_tlb_user"));
        Assert.Equal(0, ((TestMetrics)b.GetRequiredService<IMetrics>()).Value("pvops.flush_tlb_user"));
    }

    [Fact]
    public void Private_dependency_works_inside_Register_and_services()
    {
        using var machine = Machine("private-riscv");
        Assert.Same(ArchProfiles.RiscV, machine.GetRequiredService<IArchMmu>().GatherConfig);
    }

    [Fact]
    public void Validate_on_build_catches_a_missing_host_service()
    {
        var e = Assert.Throws<PluginCompositionException>(() =>
            MachineComposition.Build(_catalog.Backend("good-x86"), TestHost.Services(except: typeof(ICpus))));
        Assert.Equal(("good", "good-x86"), (e.Plugin, e.Backend));
        Assert.StartsWith("plugin 'good', backend 'good-x86': service validation failed", e.Message);
        Assert.Contains("Pv.Abstractions.Host.ICpus", e.Message);
        Assert.Contains("X86PvMmuOps", e.Message);
    }

    [Fact]
    public void Register_that_throws_is_reported_with_the_plugin_name()
    {
        var e = Assert.Throws<PluginCompositionException>(() => Machine("rt"));
        Assert.Equal(
            "plugin 'register-throws', backend 'rt': Pv.Fixtures.RegisterThrows.RegisterThrowsPlugin.Register threw InvalidOperationException: register-throws fixture refuses to register",
            e.Message);
    }

    [Fact]
    public void Plugin_without_ops_is_reported_instead_of_a_late_missing_service()
    {
        var e = Assert.Throws<PluginCompositionException>(() => Machine("empty"));
        Assert.Contains("plugin 'no-ops', backend 'empty': the plugin provided no IPvMmuOps and IArchMmu for arch profile 'x86'", e.Message);
    }

    [Fact]
    public void Startup_check_reports_each_broken_backend_by_plugin_and_backend_name()
    {
        var diagnostics = MachineComposition.StartupCheck(_catalog, TestHost.Services());
        Assert.Equal(
            [("register-throws", "rt"), ("no-ops", "empty"), ("resolve-throws", "late")],
            diagnostics.Select(d => (d.Plugin!, d.Backend!)));
        var late = diagnostics[2];
        Assert.Equal("resolving the backend's services threw InvalidOperationException: resolve-throws fixture: no pv ops today", late.Message);
        Assert.Equal("$.backends[6]", late.Location!.JsonPath);
    }
}
