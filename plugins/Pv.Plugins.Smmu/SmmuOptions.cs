// The SMMUv3 SVA backend's options (a backend's "options" in plugins.json, bound with the Options pattern) and
// the costs it declares. The era is a kernel version: from v6.6 ("mmu_notifiers: rename invalidate_range
// notifier") the driver's notifier op is arch_invalidate_secondary_tlbs, called by the arch TLB flush; before it,
// .invalidate_range from every invalidate_range_end. Every key is declared with its default so `pv plugins`
// shows it; a value the binder cannot convert is refused by the host with the key, the value and what is accepted.
using Pv.Abstractions.Plugins;

namespace Pv.Plugins.Smmu;

/// <summary>Which mmu_notifier_ops the SVA driver registers.</summary>
public enum SvaNotifier
{
    /// <summary>
    /// Before v6.6: <c>.invalidate_range</c>, which mm/mmu_notifier.c runs from every
    /// <c>mmu_notifier_invalidate_range_end</c>. Permission upgrades send no range, so nothing reaches the SMMU
    /// unless the kernel carries the 2023 seed's PROTECTION_UPGRADE pair.
    /// </summary>
    InvalidateRange,

    /// <summary>v6.6+: <c>.arch_invalidate_secondary_tlbs</c>, called by the arch TLB flush itself.</summary>
    ArchInvalidateSecondaryTlbs,
}

/// <summary>The options of one SMMUv3 SVA backend.</summary>
public sealed record SmmuOptions
{
    /// <summary>Option key of <see cref="Era"/>.</summary>
    public const string EraKey = "era";
    /// <summary>Option key of <see cref="Btm"/>.</summary>
    public const string BtmKey = "btm";
    /// <summary>Option key of <see cref="RangeInvalidation"/>.</summary>
    public const string RangeInvalidationKey = "rangeInvalidation";
    /// <summary>Cost key: one submitted command batch and its CMD_SYNC round trip.</summary>
    public const string CmdqSyncKey = "cmdqSync";
    /// <summary>Cost key: the extra of a batch holding CMD_ATC_INV.</summary>
    public const string AtcInvKey = "atcInv";

    /// <summary>The first kernel whose SVA driver registers arch_invalidate_secondary_tlbs.</summary>
    public static Version ArchInvalidateSince { get; } = new(6, 6);

    /// <summary>The keys, meanings and defaults, for <see cref="PvBackendInfo.Options"/>.</summary>
    public static IReadOnlyList<PvOptionInfo> Declared { get; } =
    [
        new(EraKey, $"the kernel version: before {ArchInvalidateSince} (6.5) the driver's .invalidate_range runs at every invalidate_range_end (upgrades notify nothing unless the " +
            $"kernel sends the seed's PROTECTION_UPGRADE pair); {ArchInvalidateSince} or later, .arch_invalidate_secondary_tlbs from the arch TLB flush", ArchInvalidateSince.ToString())
        {
            RenamedValues = new Dictionary<string, string> { ["v6.6"] = "6.6", ["pre-6.6"] = "6.5" },
        },
        new(BtmKey, "broadcast TLB maintenance: the SMMU TLB follows the CPU's TLBIs, no explicit CMD_TLBI_NH_*; ATC invalidation stays explicit", "false"),
        new(RangeInvalidationKey, "ARM_SMMU_FEAT_RANGE_INV: a range TLBI per invalidation; without it 512 pages or more become one CMD_TLBI_NH_ASID", "false"),
    ];

    /// <summary>The costs the backend declares, for <see cref="PvBackendInfo.Costs"/>.</summary>
    public static IReadOnlyList<PvCostInfo> Costs { get; } =
    [
        new(CmdqSyncKey, "one command batch submitted to the SMMU command queue (arm_smmu_cmdq_batch_submit), CMD_SYNC included", "ns", 3000),
        new(AtcInvKey, "extra for a batch holding CMD_ATC_INV: the SMMU waits for the device's ATS invalidation completion", "ns", 1500),
    ];

    /// <summary>The kernel version modelled.</summary>
    public Version Era { get; init; } = ArchInvalidateSince;

    /// <summary>ARM_SMMU_FEAT_BTM: shared ASID, the SMMU snoops the CPU's broadcast TLBIs and explicit TLBIs are skipped.</summary>
    public bool Btm { get; init; }

    /// <summary>ARM_SMMU_FEAT_RANGE_INV: one range TLBI instead of a command per page.</summary>
    public bool RangeInvalidation { get; init; }

    /// <summary>The notifier op of <see cref="Era"/>.</summary>
    public SvaNotifier Notifier => Era >= ArchInvalidateSince ? SvaNotifier.ArchInvalidateSecondaryTlbs : SvaNotifier.InvalidateRange;
}
