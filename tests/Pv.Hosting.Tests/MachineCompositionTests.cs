// Composing machines from real fixture plugins and the real engine: the scan honours [PvArch], Register's
// registrations win, the counting decorator counts and forwards, the backend is attached to its Machine
// with the engine's host services injected, the cost overrides reach the machine's clock, validation on
// build catches a missing host service, machines share nothing, Register runs once per backend, a
// singleton that would be shared by machines is refused, and every failure names the plugin and the backend.
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Host;
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
        { "name": "good-x86", "plugin": "good", "archProfile": "x86", "cost": { "ipiInitiator": 1234 } },
        { "name": "good-arm64", "plugin": "good", "archProfile": "arm64" },
        { "name": "good-x86-2021", "plugin": "good", "archProfile": "x86", "kernel": { "pfnmapForceFlush": false, "protectionUpgradeNotifier": true } },
        { "name": "good-registered", "plugin": "good", "archProfile": "x86", "options": { "archMmu": "registered" } },
        { "name": "good-singleton", "plugin": "good", "archProfile": "x86", "options": { "archMmu": "singleton" } },
        { "name": "good-captures", "plugin": "good", "archProfile": "x86", "options": { "archMmu": "captures-cpus" } },
        { "name": "private-riscv", "plugin": "private-dep", "archProfile": "riscv" },
        { "name": "rt", "plugin": "register-throws", "archProfile": "x86" },
        { "name": "empty", "plugin": "no-ops", "archProfile": "x86" },
        { "name": "late", "plugin": "resolve-throws", "archProfile": "x86" }
        """));

    public void Dispose() => _catalog.Dispose();

    private PvMachine Compose(string backend, MachineOptions? options = null) =>
        _catalog.Backend(backend).Host.CreateMachine(options ?? new MachineOptions());

    /// <summary>The value of counter <paramref name="name"/> in <paramref name="machine"/>'s metrics.</summary>
    private static long Count(PvMachine machine, string name) => machine.Machine.Metrics.Counter(name).Value;

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
        using var machine = Compose(backend);
        var ops = Assert.IsType<CountingPvMmuOps>(machine.Services.GetRequiredService<IPvMmuOps>());
        Assert.Equal(expected, ops.Inner.GetType().Name);
        Assert.DoesNotContain(machine.Services.GetServices<IPvMmuOps>(), o => ((CountingPvMmuOps)o).Inner.GetType().Name == other);
        Assert.Single(machine.Services.GetServices<IPvMmuOps>());
    }

    [Fact]
    public void Unmarked_class_serves_every_profile_with_options_bound_by_Register()
    {
        using var x86 = Compose("good-x86");
        using var arm64 = Compose("good-arm64");
        Assert.Same(ArchProfiles.X86, x86.Machine.Arch.GatherConfig);
        Assert.Same(ArchProfiles.Arm64, arm64.Machine.Arch.GatherConfig);
    }

    [Fact]
    public void Register_override_wins_over_the_scan()
    {
        using var scanned = Compose("good-x86");
        using var registered = Compose("good-registered");
        // The machine sees the plugin's arch MMU through the plugin boundary.
        Assert.Equal("GoodArchMmu", Assert.IsType<GuardedArchMmu>(scanned.Machine.Arch).Inner.GetType().Name);
        Assert.Equal("RegisteredArchMmu", Assert.IsType<GuardedArchMmu>(registered.Machine.Arch).Inner.GetType().Name);
        Assert.Same(ArchProfiles.X86V615, registered.Machine.Arch.GatherConfig);
    }

    [Fact]
    public void Backend_is_attached_through_the_counting_decorator()
    {
        using var machine = Compose("good-x86");
        var ops = Assert.IsType<CountingPvMmuOps>(machine.Machine.PvOps);
        Assert.Equal("X86PvMmuOps", ops.Inner.GetType().Name);
        Assert.Same(machine.Services.GetRequiredService<IPvMmuOps>(), ops);
        Assert.Same(machine.Services.GetRequiredService<IArchMmu>(), machine.Machine.Arch);
        Assert.Same(_catalog.Backend("good-x86"), machine.Backend);
    }

    [Fact]
    public void Plugin_gets_the_engine_host_services_of_its_own_machine()
    {
        using var machine = Compose("good-x86", new MachineOptions { Cpus = 3 });
        var inner = ((CountingPvMmuOps)machine.Machine.PvOps).Inner;
        var cpus = (ICpus)inner.GetType().GetProperty("HostCpus")!.GetValue(inner)!;
        Assert.Same(machine.Machine.Cpus, Assert.IsType<GuardedCpus>(cpus).Inner);   // through the plugin boundary
        Assert.Equal(3, cpus.Count);
        Assert.Same(machine.Machine, machine.Services.GetRequiredService<Machine>());
        Assert.Same(machine.Machine.Metrics, machine.Services.GetRequiredService<IMetrics>());
        Assert.Same(machine.Machine.Cost, machine.Services.GetRequiredService<ICost>());
    }

    [Fact]
    public void Decorator_counts_each_call_under_its_kernel_name_and_forwards_it()
    {
        using var machine = Compose("good-x86");
        var ops = machine.Machine.PvOps;

        var cpus = CpuMask.FirstN(3);
        var info = new TlbFlushInfo(new MmId(1), 0x1000, 0x3000, 12, false, 7, 0);
        ops.FlushTlbMulti(cpus, info);
        ops.FlushTlbMulti(cpus, info);
        ops.FlushTlbOneUser(0x1000);
        ops.SwitchMm(MmId.InitMm, new MmId(1));
        ops.ExitMmap(new MmId(1));

        Assert.Equal(2, Count(machine, "pvops.flush_tlb_multi"));
        Assert.Equal(6, Count(machine, "good.x86.flush_tlb_multi"));
        Assert.Equal((1, 1), (Count(machine, "pvops.flush_tlb_one_user"), Count(machine, "good.x86.flush_tlb_one_user")));
        Assert.Equal((1, 1), (Count(machine, "pvops.switch_mm"), Count(machine, "good.x86.switch_mm")));
        Assert.Equal(1, Count(machine, "pvops.exit_mmap"));
        Assert.Equal(0, Count(machine, "pvops.flush_tlb_user"));
        Assert.Equal(21, machine.Machine.Metrics.All.Count(c => c.Name.StartsWith(CountingPvMmuOps.Prefix, StringComparison.Ordinal)));
    }

    [Fact]
    public void Cost_overrides_reach_the_machine_clock_and_other_options_are_kept()
    {
        var backend = _catalog.Backend("good-x86");
        using var machine = Compose("good-x86", new MachineOptions { Cpus = 5, Cost = new CostModel { IpiInitiator = 1 } });
        Assert.Equal(1234, machine.Machine.Cost.Model.IpiInitiator);
        Assert.Equal(new CostModel().Hypercall, machine.Machine.Cost.Model.Hypercall);
        Assert.Same(backend.Costs.Engine, machine.Machine.Cost.Model);
        Assert.Equal(5, machine.Machine.Options.Cpus);
    }

    [Fact]
    public void A_backends_kernel_section_sets_the_generic_kernel_era_of_its_machines()
    {
        using var era2021 = Compose("good-x86-2021");
        using var today = Compose("good-x86");
        Assert.False(era2021.Machine.Options.PfnmapForceFlush);
        Assert.True(era2021.Machine.Options.ProtectionUpgradeNotifier);
        Assert.True(era2021.Machine.Options.BatchFailureInvalidate); // not named: the engine's default
        Assert.True(today.Machine.Options.PfnmapForceFlush);
        Assert.False(today.Machine.Options.ProtectionUpgradeNotifier);
    }

    [Fact]
    public void Two_machines_from_one_backend_share_nothing()
    {
        using var a = Compose("good-x86");
        using var b = Compose("good-x86");
        Assert.NotSame(a.Machine, b.Machine);
        Assert.NotSame(a.Services, b.Services);
        Assert.NotSame(a.Machine.Metrics, b.Machine.Metrics);
        Assert.NotSame(a.Machine.Cpus, b.Machine.Cpus);
        Assert.NotSame(a.Machine.PvOps, b.Machine.PvOps);
        Assert.NotSame(((CountingPvMmuOps)a.Machine.PvOps).Inner, ((CountingPvMmuOps)b.Machine.PvOps).Inner);
        Assert.NotSame(a.Machine.Arch, b.Machine.Arch);

        a.Machine.PvOps.FlushTlbUser();
        Assert.Equal((1, 1), (Count(a, "pvops.flush_tlb_user"), Count(a, "good.x86.flush_tlb_user")));
        Assert.Equal((0, 0), (Count(b, "pvops.flush_tlb_user"), Count(b, "good.x86.flush_tlb_user")));
    }

    [Fact]
    public void Register_runs_once_per_backend_however_many_machines_are_built()
    {
        var backend = _catalog.Backend("good-arm64");
        int before = RegisterCalls(backend);
        for (int i = 0; i < 5; i++) Compose("good-arm64").Dispose();
        Assert.Equal(1, RegisterCalls(backend) - before);
        Assert.Same(backend.Host, backend.Host);
    }

    private static int RegisterCalls(ResolvedBackend backend) =>
        (int)backend.Plugin.Instance.GetType().GetProperty("RegisterCalls")!.GetValue(backend.Plugin.Instance)!;

    [Fact]
    public void A_contract_service_registered_as_a_singleton_is_refused_by_name()
    {
        var e = Assert.Throws<PluginCompositionException>(() => Compose("good-singleton"));
        Assert.Equal(
            "plugin 'good', backend 'good-singleton': IArchMmu is registered as a singleton (a ready-made RegisteredArchMmu), so one object would serve " +
            "every machine of the backend; register it with AddScoped in Pv.Fixtures.Good.GoodPlugin.Register (every machine is a DI scope)",
            e.Message);
    }

    [Fact]
    public void A_singleton_that_asks_for_a_machines_service_fails_validation()
    {
        var e = Assert.Throws<PluginCompositionException>(() => Compose("good-captures"));
        Assert.StartsWith("plugin 'good', backend 'good-captures': service validation failed", e.Message);
        Assert.Contains("CpuCapture", e.Message);
        Assert.Contains("ICpus", e.Message);
    }

    [Fact]
    public void A_failed_composition_gives_the_same_error_to_every_caller()
    {
        var first = Assert.Throws<PluginCompositionException>(() => Compose("rt"));
        var second = Assert.Throws<PluginCompositionException>(() => Compose("rt"));
        Assert.Same(first, second);
    }

    [Fact]
    public void Private_dependency_works_inside_Register_and_services()
    {
        using var machine = Compose("private-riscv");
        Assert.Same(ArchProfiles.RiscV, machine.Machine.Arch.GatherConfig);
    }

    [Fact]
    public void Validate_on_build_catches_a_missing_host_service()
    {
        var e = Assert.Throws<PluginCompositionException>(() =>
            BackendHost.Build(_catalog.Backend("good-x86"), s => s.RemoveAll<ICpus>()));
        Assert.Equal(("good", "good-x86"), (e.Plugin, e.Backend));
        Assert.StartsWith("plugin 'good', backend 'good-x86': service validation failed", e.Message);
        Assert.Contains("Pv.Abstractions.Host.ICpus", e.Message);
        Assert.Contains("X86PvMmuOps", e.Message);
    }

    [Fact]
    public void Register_that_throws_is_reported_with_the_plugin_name()
    {
        var e = Assert.Throws<PluginCompositionException>(() => Compose("rt"));
        Assert.Equal(
            "plugin 'register-throws', backend 'rt': Pv.Fixtures.RegisterThrows.RegisterThrowsPlugin.Register threw InvalidOperationException: register-throws fixture refuses to register",
            e.Message);
    }

    [Fact]
    public void Plugin_without_ops_is_reported_instead_of_a_late_missing_service()
    {
        var e = Assert.Throws<PluginCompositionException>(() => Compose("empty"));
        Assert.Contains("plugin 'no-ops', backend 'empty': the plugin provided no IPvMmuOps and IArchMmu for arch profile 'x86'", e.Message);
    }

    [Fact]
    public void Ops_constructor_that_throws_is_reported_when_the_machine_is_created()
    {
        var e = Assert.Throws<PluginCompositionException>(() => Compose("late"));
        Assert.Equal(
            "plugin 'resolve-throws', backend 'late': resolving the backend's services threw InvalidOperationException: resolve-throws fixture: no pv ops today",
            e.Message);
        Assert.Equal("resolve-throws fixture: no pv ops today", e.InnerException!.Message);
    }

    [Fact]
    public void Startup_check_reports_each_broken_backend_by_plugin_and_backend_name()
    {
        var diagnostics = BackendHost.StartupCheck(_catalog);
        Assert.Equal(
            [("good", "good-singleton"), ("good", "good-captures"), ("register-throws", "rt"), ("no-ops", "empty"), ("resolve-throws", "late")],
            diagnostics.Select(d => (d.Plugin!, d.Backend!)));
        var late = diagnostics[4];
        Assert.Equal("resolving the backend's services threw InvalidOperationException: resolve-throws fixture: no pv ops today", late.Message);
        Assert.Equal("$.backends[9]", late.Location!.JsonPath);
    }
}
