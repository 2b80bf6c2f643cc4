using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Tests;

public class InterruptAndRcuTests
{
    [Fact]
    public void A_waited_ipi_blocks_the_sender_until_the_target_enables_irqs()
    {
        var t = new TestMachine();
        var log = new List<string>();
        t.Thread("sender", 0, th => Send());
        t.Thread("walker", 1, th => IrqOffSection());
        IEnumerable<Step> Send()
        {
            t.M.Ipi.SendIpi(CpuMask.Of(1), cpu => log.Add($"handler on cpu{cpu.Id}"), wait: true);
            log.Add("sent");
            yield return Step.Yield;
            log.Add("sender continues");
            yield return Step.Yield;
        }
        IEnumerable<Step> IrqOffSection()
        {
            t.M.Cpus[1].IrqDisable();
            log.Add("irq off");
            yield return Step.Yield;
            log.Add("walking");
            yield return Step.Yield;
            t.M.Cpus[1].IrqEnable();
            log.Add("irq on");
            yield return Step.Yield;
        }
        // The walker disables IRQs first; from then on the sender runs whenever it can.
        var r = t.M.Run(new PreferPolicy(0, firstSteps: 1));
        Assert.Equal(RunOutcome.Completed, r.Outcome);
        Assert.True(log.IndexOf("sender continues") > log.IndexOf("handler on cpu1"), string.Join(", ", log));
        Assert.True(log.IndexOf("handler on cpu1") > log.IndexOf("irq on"), string.Join(", ", log));
        Assert.Equal(1, t.M.Metrics.IpiSent.Value);
        Assert.Equal(1, t.M.Metrics.InterruptsTaken.Value);
        Assert.Equal(t.M.Cost.Model.IpiTargetInterrupt, t.M.Cost.Charged(1));
    }

    [Fact]
    public void The_target_with_irqs_off_never_takes_the_ipi_inside_its_section()
    {
        for (ulong seed = 0; seed < 200; seed++)
        {
            var t = new TestMachine();
            bool inSection = false, takenInside = false;
            t.Thread("sender", 0, th => TestMachine.Do(() => t.M.Ipi.SendIpi(CpuMask.Of(1), _ => takenInside |= inSection, wait: true)));
            t.Thread("walker", 1, th => Section());
            IEnumerable<Step> Section()
            {
                t.M.Cpus[1].IrqDisable();
                inSection = true;
                yield return Step.Yield;
                yield return Step.Yield;
                inSection = false;
                t.M.Cpus[1].IrqEnable();
                yield return Step.Yield;
            }
            Assert.Equal(RunOutcome.Completed, t.M.Run(new RandomPolicy(seed)).Outcome);
            Assert.False(takenInside, $"seed {seed}");
        }
    }

    [Fact]
    public void A_hypervisor_flush_reaches_a_cpu_with_irqs_off_and_does_not_wait()
    {
        var t = new TestMachine();
        t.Map();
        var cpu1 = t.M.Cpus[1];
        cpu1.Tlb.Fill(t.Mm.Id.Value, TestMachine.Va, Abstractions.Memory.PageTableLevel.Pte, new(1), 0, Abstractions.Memory.PteFlags.Present);
        cpu1.IrqDisable();
        var log = new List<string>();
        t.Thread("xen", 0, th => TestMachine.Do(() =>
        {
            t.M.Hypervisor.Issue(new Hypercall(HypercallCommand.TlbFlushMulti, CpuMask.Of(1), TlbInvalidation.Asid(t.Mm.Id)));
            log.Add("returned");
        }));
        var r = t.RunSequential();
        Assert.Equal(RunOutcome.Completed, r.Outcome);
        Assert.False(cpu1.Tlb.TryLookup(t.Mm.Id.Value, TestMachine.Va, out _));
        Assert.False(cpu1.IrqsEnabled);
        Assert.Equal(1, t.M.Metrics.Hypercalls.Value);
        Assert.Equal(0, t.M.Metrics.InterruptsTaken.Value);
    }

    [Fact]
    public void An_sbi_remote_fence_reaches_a_cpu_with_irqs_off_and_is_counted_and_charged_as_a_firmware_call()
    {
        var t = new TestMachine(cpus: 3);
        t.Map();
        foreach (int c in new[] { 1, 2 })
            t.M.Cpus[c].Tlb.Fill(t.Mm.Id.Value, TestMachine.Va, Abstractions.Memory.PageTableLevel.Pte, new(1), 0, Abstractions.Memory.PteFlags.Present);
        var cpu1 = t.M.Cpus[1];
        cpu1.IrqDisable();
        var targets = CpuMask.Of(0);
        targets.Set(1);
        t.Thread("sbi", 0, th => TestMachine.Do(() => t.M.Firmware.RemoteSfenceVma(targets, TlbInvalidation.Page(t.Mm.Id, TestMachine.Va))));
        long before = t.M.Cost.Total;
        Assert.Equal(RunOutcome.Completed, t.RunSequential().Outcome);
        Assert.False(cpu1.Tlb.TryLookup(t.Mm.Id.Value, TestMachine.Va, out _));          // fenced with IRQs off
        Assert.True(t.M.Cpus[2].Tlb.TryLookup(t.Mm.Id.Value, TestMachine.Va, out _));    // not a target
        Assert.Equal(1, t.M.Metrics.Counter("firmware.call").Value);
        Assert.Equal(1, t.M.Metrics.Counter("firmware.remote_sfence_vma.targets").Value);
        Assert.Equal(0, t.M.Metrics.Hypercalls.Value);
        Assert.Equal(0, t.M.Metrics.IpiSent.Value);
        Assert.Equal(0, t.M.Metrics.InterruptsTaken.Value);
        var model = t.M.Cost.Model;
        Assert.Equal(model.FirmwareCall + model.FirmwareCallPerTarget, t.M.Cost.Total - before);
    }

    [Fact]
    public void Call_rcu_waits_for_a_reader_that_was_inside_and_not_for_one_that_starts_later()
    {
        var t = new TestMachine(cpus: 3);
        var cpu1 = t.M.Cpus[1];
        var cpu2 = t.M.Cpus[2];
        bool ran = false;
        cpu1.IrqDisable();                 // a reader inside its section when call_rcu runs
        t.M.Rcu.CallRcu(() => ran = true);
        Assert.True(t.M.Rcu.GracePeriodInProgress);
        cpu2.RcuReadLock();                // a reader that starts after: does not hold the grace period
        cpu1.IrqEnable();
        Assert.False(t.M.Rcu.GracePeriodInProgress);
        Assert.Equal(1, t.M.Rcu.ReadyCallbacks);
        Assert.False(ran);                 // callbacks run as their own softirq step
        t.Thread("idle", 0, th => TestMachine.Do(() => { }));
        t.RunSequential();
        Assert.True(ran);
        Assert.Equal(1, t.M.Metrics.GracePeriods.Value);
        cpu2.RcuReadUnlock();
    }

    [Fact]
    public void A_callback_queued_during_a_grace_period_needs_the_next_one()
    {
        var t = new TestMachine(cpus: 3);
        var cpu1 = t.M.Cpus[1];
        var cpu2 = t.M.Cpus[2];
        cpu1.IrqDisable();
        t.M.Rcu.CallRcu(() => { });        // GP 1 waits for cpu1
        cpu2.IrqDisable();                 // reader after GP 1 started
        t.M.Rcu.CallRcu(() => { });        // needs GP 2, which must wait for cpu2 too
        cpu1.IrqEnable();
        Assert.Equal(1, t.M.Rcu.ReadyCallbacks);
        Assert.True(t.M.Rcu.GracePeriodInProgress);
        cpu2.IrqEnable();
        Assert.Equal(2, t.M.Rcu.ReadyCallbacks);
        Assert.Equal(2UL, t.M.Rcu.Completed);
    }

    [Fact]
    public void Synchronize_rcu_blocks_the_caller_until_readers_leave()
    {
        var t = new TestMachine();
        var log = new List<string>();
        t.Thread("updater", 0, th => Sync());
        t.Thread("reader", 1, th => Read());
        IEnumerable<Step> Sync()
        {
            t.M.Rcu.SynchronizeRcu();
            log.Add("sync called");
            yield return Step.Yield;
            log.Add("after sync");
            yield return Step.Yield;
        }
        IEnumerable<Step> Read()
        {
            t.M.Cpus[1].RcuReadLock();
            log.Add("reader in");
            yield return Step.Yield;
            log.Add("reader out");
            t.M.Cpus[1].RcuReadUnlock();
            yield return Step.Yield;
        }
        var r = t.M.Run(new PreferPolicy(1, firstSteps: 1)); // reader enters first, then updater preferred
        Assert.Equal(RunOutcome.Completed, r.Outcome);
        Assert.True(log.IndexOf("after sync") > log.IndexOf("reader out"), string.Join(", ", log));
    }

    [Fact]
    public void Continuations_run_after_the_requested_wait()
    {
        var t = new TestMachine();
        var log = new List<string>();
        t.Thread("sender", 0, th => TestMachine.Do(() =>
        {
            t.M.Ipi.SendIpi(CpuMask.Of(1), _ => log.Add("handler"), wait: true);
            t.M.Waits.Then(() => log.Add("continuation"));
        }));
        t.RunSequential();
        Assert.Equal(["handler", "continuation"], log);
    }
}

/// <summary>Runs <c>preferred</c> whenever it is runnable (after the first steps go to the lowest other id).</summary>
internal sealed class PreferPolicy(int preferred, int firstSteps = 0) : ISchedulePolicy
{
    public int Choose(ReadOnlySpan<ISchedulable> runnable, long step)
    {
        if (step >= firstSteps)
            for (int i = 0; i < runnable.Length; i++)
                if (runnable[i].Id == preferred) return i;
        for (int i = 0; i < runnable.Length; i++)
            if (runnable[i].Id != preferred) return i;
        return 0;
    }
}
