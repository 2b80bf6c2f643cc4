// The Hyper-V backend's options, bound with the Options pattern, and the costs it declares. The era (a kernel
// version) decides three things the kernel changed over time:
//  - how page tables leave an mmu_gather. The flush hypercalls arrived with 2ffd9e33ce4a ("x86/hyper-v: Use
//    hypercall for remote TLB flush"), committed on a 4.13-rc base in the 4.14 merge window, before 9e52fc2b50de
//    ("x86/mm: Enable RCU based page table freeing") in the same window; era 4.13 models that tree, where tables
//    were still freed like pages right after the flush. No release shipped it: 4.14 has both. From 4.14 to 4.18
//    every x86 kernel freed tables through RCU; 48a8b97cfd80 (4.19) made that a pv op that hyperv_setup_mmu_ops
//    points at tlb_remove_table; 6.15 dropped the pv op and frees through RCU always.
//  - when the Ex (sparse VP set) hypercalls are used. Before 0e4c88f37693 (4.18) a host that recommended them got
//    them for every flush; since, only when a target's VP number is 64 or more.
//  - nothing else: the rest of hyperv_flush_tlb_multi is the same in every era modelled.
// The two hints are what the host advertises in CPUID 0x40000004: without HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED the
// pv ops are left native (waited IPIs); without HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED a flush that needs the Ex
// form falls back to native_flush_tlb_multi.
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.HyperV;

/// <summary>Options of one Hyper-V guest machine.</summary>
public sealed record HyperVOptions
{
    /// <summary>The arch profile name.</summary>
    public const string X86 = "x86";

    /// <summary>Cost key: one GVA range entry of a FlushVirtualAddressList(Ex) rep hypercall.</summary>
    public const string GvaRangeEntry = "hvGvaRangeEntry";

    /// <summary>Cost key: one 64-VP bank of the sparse VP set of an Ex hypercall.</summary>
    public const string VpSetBank = "hvVpSetBank";

    /// <summary>The oldest tree modelled: 2ffd9e33ce4a, the flush hypercalls on a 4.13-rc base.</summary>
    public static Version FirstFlushHypercall { get; } = new(4, 13);

    /// <summary>9e52fc2b50de: x86 frees page tables through RCU (4.14).</summary>
    public static Version RcuTableFreeSince { get; } = new(4, 14);

    /// <summary>0e4c88f37693: the Ex hypercalls only when a VP number is 64 or more (4.18).</summary>
    public static Version ExOnlyWhenNeededSince { get; } = new(4, 18);

    /// <summary>48a8b97cfd80: the tlb_remove_table pv op, native tlb_remove_page unless a guest replaces it (4.19).</summary>
    public static Version TlbRemoveTablePvOpSince { get; } = new(4, 19);

    /// <summary>6.15: no pv op; x86 frees every page table through RCU.</summary>
    public static Version RcuTableFreeAlwaysSince { get; } = new(6, 15);

    /// <summary>The declared options.</summary>
    public static IReadOnlyList<PvOptionInfo> Declared { get; } =
    [
        new("era", $"the kernel version, {FirstFlushHypercall} or later: {FirstFlushHypercall} is the tree of 2ffd9e33ce4a (flush hypercalls, tables freed like pages right after them; never released); " +
            $"{RcuTableFreeSince} or later, tables through RCU (9e52fc2b50de, from {TlbRemoveTablePvOpSince} the tlb_remove_table pv op); before {ExOnlyWhenNeededSince} the Ex hypercalls for every flush when the host recommends them, " +
            $"from {ExOnlyWhenNeededSince} only past VP 63 (0e4c88f37693)", "6.6"),
        new("remoteTlbFlush", "the host sets HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED, so hyperv_setup_mmu_ops installs the flush hypercalls; false leaves the native pv ops (waited IPIs, and from 4.19 to 6.14 tlb_remove_page)", "true"),
        new("exProcessorMasks", "the host sets HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED (the Ex hypercalls with a sparse VP set); false: a flush reaching VP 64 or above falls back to native_flush_tlb_multi", "true"),
    ];

    /// <summary>The declared costs: the x86 flush ceiling and the two per-rep costs of the flush hypercalls.</summary>
    public static IReadOnlyList<PvCostInfo> Costs { get; } =
    [
        .. X86Costs.Declared,
        new(GvaRangeEntry, "one GVA range entry (up to HV_TLB_FLUSH_UNIT, 4096 pages) of a FlushVirtualAddressList(Ex) rep hypercall, on top of the hypercall itself", "ns", 100),
        new(VpSetBank, "one 64-VP bank of the sparse VP set an Ex hypercall carries, on top of the hypercall itself", "ns", 20),
    ];

    /// <summary>The kernel version modelled.</summary>
    public Version Era { get; init; } = new(6, 6);

    /// <summary>HV_X64_REMOTE_TLB_FLUSH_RECOMMENDED.</summary>
    public bool RemoteTlbFlush { get; init; } = true;

    /// <summary>HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED.</summary>
    public bool ExProcessorMasks { get; init; } = true;

    /// <summary>
    /// Page tables leave through <c>tlb_remove_table</c> and an RCU grace period: from 4.14, except 4.19–6.14 without
    /// the flush hint, where the pv op stays <c>tlb_remove_page</c> (the waited IPIs make that safe).
    /// </summary>
    public bool RcuTableFree => Era >= RcuTableFreeSince && (RemoteTlbFlush || Era < TlbRemoveTablePvOpSince || Era >= RcuTableFreeAlwaysSince);

    /// <summary>Every flush uses the Ex hypercalls (the host recommends them, before 0e4c88f37693).</summary>
    public bool AlwaysEx => ExProcessorMasks && Era < ExOnlyWhenNeededSince;

    /// <summary>The gather knobs: PARAVIRT selects RCU table free from 4.14; before, plain x86.</summary>
    public MmuGatherConfig Gather => Era >= RcuTableFreeAlwaysSince ? ArchProfiles.X86V615 : Era >= RcuTableFreeSince ? ArchProfiles.X86Paravirt : ArchProfiles.X86;

    /// <summary>Refuses an era before the flush hypercalls existed.</summary>
    internal sealed class Validator : IValidateOptions<HyperVOptions>
    {
        public ValidateOptionsResult Validate(string? name, HyperVOptions options) => options.Era < FirstFlushHypercall
            ? ValidateOptionsResult.Fail($"'era' {options.Era} is older than Hyper-V's flush hypercalls (2ffd9e33ce4a), which the model starts at {FirstFlushHypercall}")
            : ValidateOptionsResult.Success;
    }
}
