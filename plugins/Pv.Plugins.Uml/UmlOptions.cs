// The UML backend's options, bound from the backend's configuration with the Options pattern: the era (a kernel
// version) picks the TLB sync scheme, and two marks of the deferred scheme can be dropped to reproduce Z4. The
// binder converts the values; the validator refuses a combination that means nothing in the chosen era, naming
// the keys, before any machine runs.
using Microsoft.Extensions.Options;
using Pv.Abstractions.Plugins;

namespace Pv.Plugins.Uml;

/// <summary>Which TLB sync scheme UML runs.</summary>
public enum UmlSync : byte
{
    /// <summary>
    /// Since "um: refactor TLB update handling" (bcf3d957c63d, v6.11): set_ptes and flush_tlb_* mark, um_tlb_sync at
    /// the sync points.
    /// </summary>
    Deferred,
    /// <summary>Before it: every flush_tlb_* and the page fault path run fix_range at once.</summary>
    Eager,
}

/// <summary>The options of one UML backend.</summary>
public sealed record UmlOptions
{
    /// <summary>Key of the era option.</summary>
    public const string EraKey = "era";
    /// <summary>Key of the set_ptes mark toggle.</summary>
    public const string SetPtesMarkKey = "setPtesMark";
    /// <summary>Key of the kernel-range sync toggle.</summary>
    public const string KernelRangeSyncKey = "kernelRangeSync";

    /// <summary>The first kernel with the deferred sync scheme: bcf3d957c63d ("um: refactor TLB update handling") is in v6.11.</summary>
    public static Version DeferredSince { get; } = new(6, 11);

    /// <summary>The options as <see cref="PvBackendInfo.Options"/> declares them, with their defaults.</summary>
    public static IReadOnlyList<PvOptionInfo> Declared { get; } =
    [
        new(EraKey, $"the kernel version: {DeferredSince} or later, the deferred um_tlb_sync at resume and kernel SEGV; earlier (6.10), eager fix_range in every flush_tlb_* and the fault path", DeferredSince.ToString())
        {
            RenamedValues = new Dictionary<string, string> { ["2024"] = DeferredSince.ToString(), ["pre-2024"] = "6.10" },
        },
        new(SetPtesMarkKey, $"era {DeferredSince}+: set_ptes marks the mm's sync range (um_tlb_mark_sync); false reproduces Z4", "true"),
        new(KernelRangeSyncKey, $"era {DeferredSince}+: flush_tlb_kernel_range syncs init_mm at once; false only marks it, reproducing Z4", "true"),
    ];

    /// <summary>The kernel version modelled.</summary>
    public Version Era { get; init; } = DeferredSince;

    /// <summary>set_ptes widens the mm's sync range (<c>um_tlb_mark_sync</c>); false forgets it (Z4).</summary>
    public bool SetPtesMark { get; init; } = true;

    /// <summary>flush_tlb_kernel_range syncs init_mm at once; false only marks (Z4).</summary>
    public bool KernelRangeSync { get; init; } = true;

    /// <summary>The sync scheme of <see cref="Era"/>.</summary>
    public UmlSync Sync => Era >= DeferredSince ? UmlSync.Deferred : UmlSync.Eager;

    /// <summary>Refuses the marks' toggles off before the deferred scheme, which had neither mark.</summary>
    internal sealed class Validator : IValidateOptions<UmlOptions>
    {
        public ValidateOptionsResult Validate(string? name, UmlOptions options) =>
            options.Sync == UmlSync.Eager && !(options.SetPtesMark && options.KernelRangeSync)
                ? ValidateOptionsResult.Fail($"'{SetPtesMarkKey}' and '{KernelRangeSyncKey}' apply from era {DeferredSince} only: before it set_ptes kept no sync range and flush_tlb_kernel_range always synced")
                : ValidateOptionsResult.Success;
    }
}
