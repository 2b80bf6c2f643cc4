// IPIs, the hypervisor and the firmware as host services. An IPI to another CPU is queued there and taken only while
// that CPU has IRQs on; a waited IPI blocks the sender's thread until every target ran the handler. A
// hypercall flush reaches the target vCPUs' TLBs directly and returns: nobody waits for the target's IRQ
// state, which is why a backend flushing this way must not free page tables right after. An SBI remote fence
// behaves the same way from the kernel's point of view.
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Host;

/// <summary>IIpi on a machine.</summary>
internal sealed class IpiService(Machine machine) : IIpi
{
    /// <inheritdoc/>
    public void SendIpi(CpuMask targets, IpiHandler handler, bool wait)
    {
        var self = machine.CurrentCpu;
        int remote = targets.Count - (targets.Contains(self.Id) ? 1 : 0);
        AckCounter? ack = null;
        if (remote > 0)
        {
            if (wait)
            {
                var thread = machine.CurrentThread ?? throw new InvalidOperationException("a waited IPI cannot be sent from interrupt context");
                if (!self.IrqsEnabled) throw new ProgramException($"smp_call_function with IRQs disabled would deadlock (the waited IPI cannot complete while a target, or this CPU, has IRQs off)");
                ack = new AckCounter(remote, "IPI acknowledgements");
                thread.AddWait(ack);
            }
            var cost = machine.Cost;
            cost.Charge(self.Id, cost.Model.IpiInitiator + cost.Model.IpiPerExtraTarget * (remote - 1));
            machine.Metrics.IpiSent.Add(remote);
        }
        foreach (int cpu in targets)
        {
            if (cpu == self.Id) continue;
            machine.Cpus[cpu].QueueIpi(handler, ack);
            machine.Trace(TraceEvents.IpiSent, (ulong)cpu, wait ? 1UL : 0UL);
        }
        // The local CPU runs the function directly (on_each_cpu_mask), with IRQs off.
        if (targets.Contains(self.Id)) handler(self);
    }
}

/// <summary>IHypervisor on a machine: Xen's MMUEXT flushes and multicalls.</summary>
internal sealed class HypervisorService(Machine machine) : IHypervisor
{
    /// <inheritdoc/>
    public void Issue(in Hypercall op)
    {
        Charge();
        Apply(op);
    }

    /// <inheritdoc/>
    public void Multicall(ReadOnlySpan<Hypercall> batch)
    {
        Charge();
        machine.Metrics.Multicalls.Increment();
        foreach (ref readonly var op in batch) Apply(op);
    }

    private void Charge()
    {
        machine.Metrics.Hypercalls.Increment();
        machine.Cost.Charge(machine.CurrentCpu.Id, machine.Cost.Model.Hypercall);
    }

    private void Apply(in Hypercall op)
    {
        machine.Trace(TraceEvents.HypercallOp, (ulong)op.Command, op.Invalidation.Start, TraceEvents.CpuBits(op.Vcpus));
        switch (op.Command)
        {
            case HypercallCommand.TlbFlushLocal:
            case HypercallCommand.InvlpgLocal:
                machine.CurrentCpu.ApplyRemote(op.Invalidation);
                break;
            case HypercallCommand.TlbFlushMulti:
            case HypercallCommand.InvlpgMulti:
            case HypercallCommand.HvFlushVirtualAddressSpace or HypercallCommand.HvFlushVirtualAddressList:
            case HypercallCommand.HvFlushVirtualAddressSpaceEx or HypercallCommand.HvFlushVirtualAddressListEx:
                foreach (int cpu in op.Vcpus) machine.Cpus[cpu].ApplyRemote(op.Invalidation);
                break;
            case HypercallCommand.TlbFlushAll:
                foreach (var cpu in machine.Cpus.All) cpu.ApplyRemote(op.Invalidation);
                break;
            case HypercallCommand.MmuUpdate:
            case HypercallCommand.PinTable:
                break;
        }
    }
}

/// <summary>IFirmware on a machine: SBI remote fences, applied to the targets' TLBs without interrupting them.</summary>
internal sealed class FirmwareService(Machine machine) : IFirmware
{
    /// <inheritdoc/>
    public void RemoteSfenceVma(CpuMask targets, in TlbInvalidation invalidation)
    {
        var self = machine.CurrentCpu;
        int remote = targets.Count - (targets.Contains(self.Id) ? 1 : 0);
        // Counted by name on use, not among the engine's eager counters: a run that makes no firmware call
        // reports no firmware rows.
        machine.Metrics.Counter("firmware.call").Increment();
        machine.Metrics.Counter("firmware.remote_sfence_vma.targets").Add(remote);
        machine.Cost.Charge(self.Id, machine.Cost.Model.FirmwareCall + machine.Cost.Model.FirmwareCallPerTarget * remote);
        machine.Trace(TraceEvents.SbiRemoteSfenceVma, invalidation.Start, (ulong)invalidation.Kind, TraceEvents.CpuBits(targets));
        foreach (int cpu in targets) machine.Cpus[cpu].ApplyRemote(invalidation);
    }
}

/// <summary>IWaits: continuations after a plugin's requested waits.</summary>
internal sealed class WaitsService(Machine machine) : IWaits
{
    /// <inheritdoc/>
    public void Then(Action continuation)
    {
        var thread = machine.CurrentThread ?? throw new InvalidOperationException("IWaits.Then outside a thread");
        thread.AddContinuation(continuation);
    }
}
