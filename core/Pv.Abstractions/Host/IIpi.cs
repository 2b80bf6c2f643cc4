// Inter-processor interrupts, the hypervisor's flush, RCU and blocking: the host mechanisms whose timing
// the oracle watches. An IPI is taken only when the target has IRQs enabled; a hypervisor flush and a
// hardware broadcast do not wait for that, which is why such backends must free tables through RCU.
using Pv.Abstractions.Mm;

namespace Pv.Abstractions.Host;

/// <summary>Runs on the target CPU when it takes the IPI.</summary>
/// <param name="cpu">The CPU taking the interrupt.</param>
public delegate void IpiHandler(ICpu cpu);

/// <summary>smp_call_function_many / on_each_cpu_mask.</summary>
public interface IIpi
{
    /// <summary>
    /// Send an IPI to every CPU of <paramref name="targets"/> (the calling CPU runs the handler at once if it is
    /// in the mask). With <paramref name="wait"/>, the calling thread takes no further step until every target
    /// ran the handler; a target with IRQs off runs it only when it enables them.
    /// </summary>
    void SendIpi(CpuMask targets, IpiHandler handler, bool wait);
}

/// <summary>The hypercalls a guest issues: Xen's MMUEXT and mmu_update commands, Hyper-V's flush hypercalls.</summary>
public enum HypercallCommand : byte
{
    /// <summary>mmu_update: one page-table entry write, validated by the hypervisor.</summary>
    MmuUpdate,
    /// <summary>MMUEXT_TLB_FLUSH_LOCAL.</summary>
    TlbFlushLocal,
    /// <summary>MMUEXT_INVLPG_LOCAL.</summary>
    InvlpgLocal,
    /// <summary>MMUEXT_TLB_FLUSH_MULTI: flush the listed vCPUs.</summary>
    TlbFlushMulti,
    /// <summary>MMUEXT_INVLPG_MULTI: one page on the listed vCPUs.</summary>
    InvlpgMulti,
    /// <summary>MMUEXT_TLB_FLUSH_ALL.</summary>
    TlbFlushAll,
    /// <summary>MMUEXT_PIN_L4_TABLE / unpin: page-table validation (counted only).</summary>
    PinTable,
    /// <summary>Hyper-V HvCallFlushVirtualAddressSpace (contract 2.3): flush the listed vCPUs' whole address space (up to 64 vCPUs).</summary>
    HvFlushVirtualAddressSpace,
    /// <summary>Hyper-V HvCallFlushVirtualAddressList (contract 2.3): flush a list of GVA ranges on the listed vCPUs (up to 64 vCPUs).</summary>
    HvFlushVirtualAddressList,
    /// <summary>Hyper-V HvCallFlushVirtualAddressSpaceEx (contract 2.3): as the Space call, the vCPUs given as a sparse set (any number).</summary>
    HvFlushVirtualAddressSpaceEx,
    /// <summary>Hyper-V HvCallFlushVirtualAddressListEx (contract 2.3): as the List call, the vCPUs given as a sparse set (any number).</summary>
    HvFlushVirtualAddressListEx,
}

/// <summary>One hypercall operation.</summary>
/// <param name="Command">The command.</param>
/// <param name="Vcpus">Target vCPUs (MULTI commands).</param>
/// <param name="Invalidation">What a flush command invalidates on each target.</param>
public readonly record struct Hypercall(HypercallCommand Command, CpuMask Vcpus, TlbInvalidation Invalidation);

/// <summary>
/// The hypervisor: flushes vCPUs' TLBs from outside, without an interrupt the guest could hold off.
/// Each call is one hypercall (one guest/hypervisor transition), charged to the calling CPU.
/// </summary>
public interface IHypervisor
{
    /// <summary>Issue one hypercall; flush commands complete on every target before it returns.</summary>
    void Issue(in Hypercall op);

    /// <summary>A multicall: the batch in one hypercall (Xen's lazy MMU mode issues its queue this way).</summary>
    void Multicall(ReadOnlySpan<Hypercall> batch);
}

/// <summary>RCU(-sched): readers are IRQ-off sections and <c>rcu_read_lock</c> sections.</summary>
public interface IRcu
{
    /// <summary><c>call_rcu</c>: run <paramref name="callback"/> once every CPU has passed a quiescent state after this call.</summary>
    void CallRcu(Action callback);

    /// <summary><c>synchronize_rcu</c>: the calling thread takes no further step until a grace period has passed.</summary>
    void SynchronizeRcu();
}

/// <summary>Continuations for plugin methods that must do more after a wait they requested.</summary>
public interface IWaits
{
    /// <summary>
    /// Run <paramref name="continuation"/> as the calling thread's next step, once every wait it has requested so
    /// far (waited IPIs, grace periods) is over. Continuations run in the order they were registered.
    /// </summary>
    void Then(Action continuation);
}
