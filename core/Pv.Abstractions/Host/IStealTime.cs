// KVM's steal-time area as a guest sees it (contract 2.3): each vCPU's struct kvm_steal_time lives in guest memory
// that the host writes, and its `preempted` byte says whether the host has descheduled the vCPU
// (KVM_VCPU_PREEMPTED, set by kvm_steal_time_set_preempted when the vCPU is put). A guest may ask the host to flush
// a preempted vCPU's TLB before it next runs by setting KVM_VCPU_FLUSH_TLB with a cmpxchg (kvm_flush_tlb_multi);
// the host reads and clears the byte in record_steal_time when it runs the vCPU again. A flush asked for this way
// interrupts nothing: a preempted vCPU caught inside an IRQ-off section (GUP-fast) is not held off by it.
namespace Pv.Abstractions.Host;

/// <summary>The <c>preempted</c> byte's bits (include/uapi/asm/kvm_para.h).</summary>
public static class KvmVcpuState
{
    /// <summary>KVM_VCPU_PREEMPTED: the host descheduled the vCPU.</summary>
    public const byte Preempted = 1 << 0;
    /// <summary>KVM_VCPU_FLUSH_TLB: the guest asks the host to flush the vCPU's TLB before it runs again.</summary>
    public const byte FlushTlb = 1 << 1;
}

/// <summary>Every vCPU's <c>steal_time.preempted</c> byte, as guest memory: read and compare-and-exchanged in place.</summary>
public interface IStealTime
{
    /// <summary><c>READ_ONCE(per_cpu(steal_time, cpu).preempted)</c>.</summary>
    byte Preempted(int cpu);

    /// <summary>
    /// <c>try_cmpxchg(&amp;per_cpu(steal_time, cpu).preempted, &amp;expected, value)</c>: writes <paramref name="value"/> and
    /// returns true if the byte still holds <paramref name="expected"/>, else changes nothing and returns false.
    /// </summary>
    bool TryCompareExchangePreempted(int cpu, byte expected, byte value);
}
