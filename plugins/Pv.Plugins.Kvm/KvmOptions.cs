// The KVM guest backend's options, bound with the Options pattern. A KVM guest with KVM_FEATURE_PV_TLB_FLUSH (and
// steal time) flushes remote TLBs with kvm_flush_tlb_multi (858a43aae2367, 4.16); kvm_guest_init then also points
// pv_ops.mmu.tlb_remove_table at tlb_remove_table, so page tables leave through RCU. `tableFree: immediate` is the
// design without that line: tables freed like pages right after the flush, as native x86 did before 6.15. It is
// the KVM twin of the Xen PV seed (Z1): a vCPU the host preempted inside GUP-fast's IRQ-off section gets no IPI.
using Pv.Abstractions.Gather;
using Pv.Abstractions.Plugins;

namespace Pv.Plugins.Kvm;

/// <summary>How a KVM guest frees page tables.</summary>
public enum KvmTableFree
{
    /// <summary><c>tlb_remove_table</c> after an RCU grace period (what kvm_guest_init sets with PV TLB flush).</summary>
    Rcu,
    /// <summary>Like pages, right after the flush (no tlb_remove_table pv op).</summary>
    Immediate,
}

/// <summary>Options of one KVM guest machine.</summary>
public sealed record KvmOptions
{
    /// <summary>The arch profile name.</summary>
    public const string X86 = "x86";

    /// <summary>The declared options.</summary>
    public static IReadOnlyList<PvOptionInfo> Declared { get; } =
    [
        new("tableFree", "rcu: page tables through tlb_remove_table and RCU (kvm_guest_init sets it with PV TLB flush); " +
            "immediate: freed like pages right after the flush, which a vCPU preempted inside GUP-fast does not survive", "rcu"),
    ];

    /// <summary>How page tables are freed.</summary>
    public KvmTableFree TableFree { get; init; } = KvmTableFree.Rcu;

    /// <summary>The gather knobs: paravirt x86 (RCU table free), or plain x86 when tables are freed at once.</summary>
    public MmuGatherConfig Gather => TableFree == KvmTableFree.Rcu ? ArchProfiles.X86Paravirt : ArchProfiles.X86;
}
