// The plugin boundary as a mechanism: a throw in a plugin's flush_tlb_multi, reached through its own arch flush,
// is one PluginFaultException naming the plugin, the backend and the innermost operation (flush_tlb_multi, not
// flush_tlb_mm_range) with the plugin's exception; what is not the plugin's passes through; a throwing constructor
// at resolve time is a fault of the same kind; and the watchdog names a call that overruns the per-call limit,
// and asks a run outside plugin code to stop when the time limit expires.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Host;
using Pv.Hosting.Composition;

namespace Pv.Hosting.Tests;

public sealed class PluginBoundaryTests : IDisposable
{
    private readonly PluginCatalog _catalog = PluginCatalog.Load(Fixtures.WriteConfig(
        Fixtures.PluginEntry("faulty", "Faulty") + ", " + Fixtures.PluginEntry("resolve-throws", "ResolveThrows"),
        """
        { "name": "faulty-throw", "plugin": "faulty", "archProfile": "x86", "options": { "fault": "throw" } },
        { "name": "faulty-ok", "plugin": "faulty", "archProfile": "x86" },
        { "name": "late", "plugin": "resolve-throws", "archProfile": "x86" }
        """));

    public void Dispose() => _catalog.Dispose();

    [Fact]
    public void A_throw_in_flush_tlb_multi_is_a_plugin_fault_naming_plugin_backend_and_the_innermost_operation()
    {
        using var machine = _catalog.Backend("faulty-throw").Host.CreateMachine(new MachineOptions());
        var e = Assert.Throws<PluginFaultException>(() => machine.Machine.Arch.FlushTlbMmRange(MmId.InitMm, 0, TlbFlushInfo.FullMm, 12, false));
        Assert.Equal(("faulty", "faulty-throw", "flush_tlb_multi", "setup"), (e.Plugin, e.Backend, e.Operation, e.Agent));
        Assert.IsType<InvalidOperationException>(e.InnerException);
        Assert.Equal("plugin 'faulty', backend 'faulty-throw': flush_tlb_multi threw InvalidOperationException: faulty fixture: flush_tlb_multi failed on purpose", e.Message);
        Assert.Empty(e.Schedule);
    }

    [Fact]
    public void A_working_backend_behind_the_boundary_runs_unchanged()
    {
        using var machine = _catalog.Backend("faulty-ok").Host.CreateMachine(new MachineOptions());
        machine.Machine.Arch.FlushTlbMmRange(MmId.InitMm, 0, TlbFlushInfo.FullMm, 12, false);
        Assert.Equal(1, machine.Machine.Metrics.Counter(CountingPvMmuOps.Prefix + "flush_tlb_multi").Value);
    }

    [Fact]
    public void A_constructor_that_throws_at_resolve_time_is_a_plugin_fault()
    {
        var e = Assert.Throws<PluginCompositionException>(() => _catalog.Backend("late").Host.CreateMachine(new MachineOptions()));
        Assert.IsAssignableFrom<PluginFaultException>(e);
        Assert.Equal(("resolve-throws", "late"), (e.Plugin, e.Backend));
    }

    [Fact]
    public void What_is_not_the_plugins_passes_through_the_boundary()
    {
        Assert.True(PluginBoundary.IsPluginFault(new InvalidOperationException()));
        Assert.True(PluginBoundary.IsPluginFault(new NullReferenceException()));
        Assert.False(PluginBoundary.IsPluginFault(new EngineBugException("refcount")));
        Assert.False(PluginBoundary.IsPluginFault(new ProgramException("smp_call_function with IRQs disabled would deadlock")));
        Assert.False(PluginBoundary.IsPluginFault(new RunStoppedException("interrupted")));
        Assert.False(PluginBoundary.IsPluginFault(new PluginFaultException("p", "b", "flush_tlb_multi", new InvalidOperationException(), [], "setup")));
    }

    [Fact]
    public void The_watchdog_names_a_call_that_overruns_the_per_call_limit()
    {
        var watch = new RunWatch();
        PluginBoundary boundary;
        using (watch.Install())
            boundary = new PluginBoundary("faulty", "faulty-loop", new MachineScope());
        PluginHang? hung = null;
        var call = boundary.Enter("flush_tlb_multi");
        using (new PluginWatchdog(watch, null, TimeSpan.FromMilliseconds(200), h => hung = h, _ => { }, poll: TimeSpan.FromMilliseconds(20)))
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref hung) is not null, TimeSpan.FromSeconds(10)), "the watchdog did not report the hung call");
        boundary.Exit(call);
        Assert.Equal(new PluginHang("faulty", "faulty-loop", "flush_tlb_multi", "the per-call limit of 0.2 s"), hung);
        Assert.Equal("plugin 'faulty', backend 'faulty-loop': flush_tlb_multi did not return within the per-call limit of 0.2 s", hung!.ToString());
    }

    [Fact]
    public void The_time_limit_outside_plugin_code_asks_the_run_to_stop()
    {
        var watch = new RunWatch();
        var hung = false;
        using (new PluginWatchdog(watch, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10), _ => hung = true, _ => { }, poll: TimeSpan.FromMilliseconds(20)))
            SpinWait.SpinUntil(() => watch.StopReason is not null, TimeSpan.FromSeconds(10));
        Assert.False(hung);
        var e = Assert.Throws<RunStoppedException>(watch.ThrowIfStopRequested);
        Assert.Equal("the time limit of 0.1 s was reached", e.Message);
    }

    [Fact]
    public void A_worker_lane_reports_its_calls_to_the_commands_watchdog_and_shares_its_stop()
    {
        // pv zoo --jobs: machines on a worker thread report to a lane of the command's watch.
        var watch = new RunWatch();
        var lane = watch.Lane();
        PluginBoundary boundary;
        using (lane.Install())
            boundary = new PluginBoundary("faulty", "faulty-loop", new MachineScope());
        Assert.Equal([watch, lane], watch.Lanes);
        PluginHang? hung = null;
        var call = boundary.Enter("flush_tlb_multi");
        using (new PluginWatchdog(watch, null, TimeSpan.FromMilliseconds(200), h => hung = h, _ => { }, poll: TimeSpan.FromMilliseconds(20)))
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref hung) is not null, TimeSpan.FromSeconds(10)), "the watchdog did not see the lane's hung call");
        boundary.Exit(call);
        Assert.Equal("flush_tlb_multi", hung!.Operation);
        watch.RequestStop("interrupted (Ctrl-C)");
        Assert.Equal("interrupted (Ctrl-C)", Assert.Throws<RunStoppedException>(lane.ThrowIfStopRequested).Message);
    }

    [Fact]
    public void A_call_merely_in_flight_when_the_time_limit_expires_is_no_hang_the_run_is_asked_to_stop()
    {
        // CI once lost its test host this way: a flush was in flight at the instant --time-limit expired.
        var watch = new RunWatch();
        PluginBoundary boundary;
        using (watch.Install())
            boundary = new PluginBoundary("xen", "xen-pv", new MachineScope());
        PluginHang? hung = null;
        var call = boundary.Enter("flush_tlb_multi");
        using (new PluginWatchdog(watch, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10), h => hung = h, _ => { }, poll: TimeSpan.FromMilliseconds(20)))
        {
            Assert.True(SpinWait.SpinUntil(() => watch.StopReason is not null, TimeSpan.FromSeconds(10)), "the time limit did not ask the run to stop");
            boundary.Exit(call);   // the call returns well within the hang grace
            Thread.Sleep(1500);
        }
        Assert.Null(hung);
    }
}
