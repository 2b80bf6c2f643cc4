// The hypervisor descheduling and resuming a guest's vCPUs, as steps of a host thread, for KVM's paravirtual TLB
// flush (arch/x86/kvm/x86.c). Preempting a vCPU is kvm_arch_vcpu_put -> kvm_steal_time_set_preempted: the guest's
// steal_time.preempted becomes KVM_VCPU_PREEMPTED and nothing of the guest runs there (its threads, its hardware
// walker, the IPIs it would take); its TLB, IRQ-off and RCU read-side state stay as they were, so a vCPU preempted
// inside GUP-fast is still inside it when it comes back. Resuming is vcpu_enter_guest -> record_steal_time: the byte
// is read and cleared, the vCPU's TLB flushed if the guest asked (KVM_VCPU_FLUSH_TLB), and then the vCPU runs. Since
// the CVE-2019-3016 fix (MachineOptions.StealTimeXchg) that is one xchg on the guest's page; before it, the struct was
// read into a host copy in one step and the copy written back (preempted = 0) in a later one, so a flush request the
// guest set in between was overwritten. The guest's side is IStealTime (StealTimeService).
using Pv.Abstractions.Host;
using Pv.Engine.Cpu;
using Pv.Engine.Sched;

namespace Pv.Engine.Host;

/// <summary>IStealTime on a machine: each vCPU's steal_time.preempted byte.</summary>
internal sealed class StealTimeService(Machine machine) : IStealTime
{
    /// <inheritdoc/>
    public byte Preempted(int cpu) => machine.Cpus[cpu].StealTimePreempted;

    /// <inheritdoc/>
    public bool TryCompareExchangePreempted(int cpu, byte expected, byte value)
    {
        var c = machine.Cpus[cpu];
        if (c.StealTimePreempted != expected) return false;
        c.StealTimePreempted = value;
        // The guest's write to another vCPU's steal_time: the step a lost flush request (CVE-2019-3016) starts from.
        machine.Trace(TraceEvents.StealTimeCmpxchg, (ulong)cpu, value);
        return true;
    }
}

/// <summary>The host's vCPU scheduling.</summary>
internal static class VcpuScheduling
{
    /// <summary>
    /// kvm_arch_vcpu_put with the vCPU preempted: kvm_steal_time_set_preempted, and the vCPU stops. With a
    /// <paramref name="slice"/>, the host thread then lets that many steps of the others pass before it goes on (the
    /// time the vCPU stays descheduled), or less if nothing else can run.
    /// </summary>
    public static IEnumerable<Step> Preempt(Machine m, SimThread host, SimCpu vcpu, int slice)
    {
        if (vcpu.VcpuPreempted) throw new ProgramException($"vCPU {vcpu.Id} is already preempted");
        vcpu.VcpuPreempted = true;
        vcpu.StealTimePreempted = KvmVcpuState.Preempted;
        m.Metrics.Counter("kvm.vcpu_preempted").Increment();
        m.Trace(TraceEvents.VcpuPreempted, (ulong)vcpu.Id, vcpu.StealTimePreempted);
        yield return Step.Yield;
        if (slice > 0) yield return Step.Wait(new TimeSlice(m, host, m.Scheduler.CurrentStep + slice));
    }

    /// <summary>A host thread's wait for a number of steps to pass; over early when no guest entity can run (else a deadlock).</summary>
    private sealed class TimeSlice(Machine m, SimThread host, long until) : IWaitCondition
    {
        public bool IsSatisfied => m.Scheduler.CurrentStep >= until || !GuestCanRun();

        private bool GuestCanRun()
        {
            // Host threads are left out: two of them waiting on their slices must not ask each other.
            foreach (var e in m.Scheduler.Entities)
                if (e != host && e is not SimThread { Kind: ThreadKind.Host } && e.IsRunnable) return true;
            return false;
        }

        public string Describe() => $"its time slice to end at step {until}";
    }

    /// <summary>vcpu_enter_guest: record_steal_time (with or without the CVE-2019-3016 fix), then the vCPU runs.</summary>
    public static IEnumerable<Step> Resume(Machine m, SimCpu vcpu)
    {
        if (!vcpu.VcpuPreempted) throw new ProgramException($"vCPU {vcpu.Id} is not preempted");
        byte seen;
        if (m.Options.StealTimeXchg)
        {
            // xchg(&st->preempted, 0) on the guest's page: nothing the guest sets can slip between the test and the clear.
            seen = vcpu.StealTimePreempted;
            vcpu.StealTimePreempted = 0;
            FlushIfAsked(m, vcpu, seen);
        }
        else
        {
            // kvm_read_guest_cached into the host's copy; the xchg and the flush test work on the copy.
            seen = vcpu.StealTimePreempted;
            m.Trace(TraceEvents.StealTimeRead, (ulong)vcpu.Id, seen);
            FlushIfAsked(m, vcpu, seen);
            yield return Step.Yield;
            // kvm_write_guest_cached of the copy: preempted = 0, whatever the guest wrote since the read.
            vcpu.StealTimePreempted = 0;
        }
        vcpu.VcpuPreempted = false;
        m.Trace(TraceEvents.VcpuResumed, (ulong)vcpu.Id, seen);
        yield return Step.Yield;
    }

    /// <summary>kvm_vcpu_flush_tlb_guest when the guest set KVM_VCPU_FLUSH_TLB: the vCPU's whole TLB and walk caches.</summary>
    private static void FlushIfAsked(Machine m, SimCpu vcpu, byte preempted)
    {
        if ((preempted & KvmVcpuState.FlushTlb) == 0) return;
        m.Metrics.Counter("kvm.steal_time_flush").Increment();
        m.Cost.Charge(vcpu.Id, m.Cost.Model.LocalFullFlush);
        m.Trace(TraceEvents.StealTimeFlush, (ulong)vcpu.Id, 0);
        vcpu.ApplyRemote(TlbInvalidation.All);
    }
}
