// The SMMUv3 SVA backend's options (a backend's "options" in plugins.json) and the kernel era each selects.
// Every key is declared with its default so `pv plugins` shows it; a bad value is refused with the key, the
// value and what is accepted, before the machine is built.
using Microsoft.Extensions.Configuration;
using Pv.Abstractions.Plugins;

namespace Pv.Plugins.Smmu;

/// <summary>Which mmu_notifier_ops the SVA driver has, by kernel era.</summary>
public enum SvaEra
{
    /// <summary>
    /// Before v6.6: <c>.invalidate_range</c>, which mm/mmu_notifier.c runs from every
    /// <c>mmu_notifier_invalidate_range_end</c>. Permission upgrades send no range, so nothing reaches the SMMU
    /// unless the kernel carries the 2023 seed's PROTECTION_UPGRADE pair.
    /// </summary>
    Pre66,

    /// <summary>v6.6+: <c>.arch_invalidate_secondary_tlbs</c>, called by the arch TLB flush itself.</summary>
    V66,
}

/// <summary>The options of one SMMUv3 SVA backend.</summary>
/// <param name="Era">Which notifier op the driver registers.</param>
/// <param name="Btm">ARM_SMMU_FEAT_BTM: shared ASID, the SMMU snoops the CPU's broadcast TLBIs and explicit TLBIs are skipped.</param>
/// <param name="RangeInvalidation">ARM_SMMU_FEAT_RANGE_INV: one range TLBI instead of a command per page.</param>
public sealed record SmmuOptions(SvaEra Era, bool Btm, bool RangeInvalidation)
{
    /// <summary>Option key of <see cref="Era"/>.</summary>
    public const string EraKey = "era";
    /// <summary>Option key of <see cref="Btm"/>.</summary>
    public const string BtmKey = "btm";
    /// <summary>Option key of <see cref="RangeInvalidation"/>.</summary>
    public const string RangeInvalidationKey = "rangeInvalidation";

    /// <summary>The keys, meanings and defaults, for <see cref="PvBackendInfo.Options"/>.</summary>
    public static IReadOnlyList<PvOptionInfo> Declared { get; } =
    [
        new(EraKey, "pre-6.6: the driver's .invalidate_range runs at every invalidate_range_end (upgrades notify nothing unless the " +
            "kernel sends the seed's PROTECTION_UPGRADE pair); v6.6: .arch_invalidate_secondary_tlbs from the arch TLB flush", "v6.6"),
        new(BtmKey, "broadcast TLB maintenance: the SMMU TLB follows the CPU's TLBIs, no explicit CMD_TLBI_NH_*; ATC invalidation stays explicit", "false"),
        new(RangeInvalidationKey, "ARM_SMMU_FEAT_RANGE_INV: a range TLBI per invalidation; without it 512 pages or more become one CMD_TLBI_NH_ASID", "false"),
    ];

    /// <summary>Reads the options; absent keys take their defaults.</summary>
    /// <exception cref="ArgumentException">A value is not one the key accepts.</exception>
    public static SmmuOptions From(IConfiguration options)
    {
        var era = options[EraKey] switch
        {
            null or "v6.6" => SvaEra.V66,
            "pre-6.6" => SvaEra.Pre66,
            var v => throw new ArgumentException($"option '{EraKey}': '{v}' is not an era; expected 'pre-6.6' or 'v6.6'"),
        };
        bool btm = Bool(options, BtmKey);
        return new SmmuOptions(era, btm, Bool(options, RangeInvalidationKey));
    }

    private static bool Bool(IConfiguration options, string key) => options[key] switch
    {
        null => false,
        var v when bool.TryParse(v, out bool b) => b,
        var v => throw new ArgumentException($"option '{key}': '{v}' is not a boolean; expected true or false"),
    };
}
