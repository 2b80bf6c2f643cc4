// The UML backend's options, read from the backend's configuration: the era of the TLB sync scheme and the
// two marks of the 2024 scheme that a broken variant may forget (the Z4 zoo entry). Bad values and
// combinations that mean nothing in the chosen era are refused with a message naming the key.
using Microsoft.Extensions.Configuration;
using Pv.Abstractions.Plugins;

namespace Pv.Plugins.Uml;

/// <summary>Which TLB sync scheme UML runs.</summary>
public enum UmlEra : byte
{
    /// <summary>"um: refactor TLB update handling" (2024): set_ptes and flush_tlb_* mark, um_tlb_sync at the sync points.</summary>
    V2024,
    /// <summary>Before the refactor: every flush_tlb_* and the page fault path run fix_range at once.</summary>
    Pre2024,
}

/// <summary>The options of one UML backend.</summary>
/// <param name="Era">The sync scheme.</param>
/// <param name="SetPtesMark">set_ptes widens the mm's sync range (<c>um_tlb_mark_sync</c>); false forgets it (Z4).</param>
/// <param name="KernelRangeSync">flush_tlb_kernel_range syncs init_mm at once; false only marks (Z4).</param>
public sealed record UmlOptions(UmlEra Era, bool SetPtesMark, bool KernelRangeSync)
{
    /// <summary>Key of the era option.</summary>
    public const string EraKey = "era";
    /// <summary>Key of the set_ptes mark toggle.</summary>
    public const string SetPtesMarkKey = "set-ptes-mark";
    /// <summary>Key of the kernel-range sync toggle.</summary>
    public const string KernelRangeSyncKey = "kernel-range-sync";

    /// <summary>The options as <see cref="PvBackendInfo.Options"/> declares them, with their defaults.</summary>
    public static IReadOnlyList<PvOptionInfo> Declared { get; } =
    [
        new(EraKey, "TLB sync scheme: '2024' (deferred um_tlb_sync at resume and kernel SEGV) or 'pre-2024' (eager fix_range in every flush_tlb_* and the fault path)", "2024"),
        new(SetPtesMarkKey, "2024 era: set_ptes marks the mm's sync range (um_tlb_mark_sync); false reproduces Z4", "true"),
        new(KernelRangeSyncKey, "2024 era: flush_tlb_kernel_range syncs init_mm at once; false only marks it, reproducing Z4", "true"),
    ];

    /// <summary>Reads the options from <paramref name="config"/>; absent keys take their defaults.</summary>
    /// <exception cref="InvalidOperationException">A value is not understood, or a toggle does not apply to the era.</exception>
    public static UmlOptions Read(IConfiguration config)
    {
        var era = config[EraKey] switch
        {
            null or "2024" => UmlEra.V2024,
            "pre-2024" => UmlEra.Pre2024,
            var v => throw new InvalidOperationException($"uml option '{EraKey}' must be '2024' or 'pre-2024', not '{v}'"),
        };
        bool setPtesMark = Bool(config, SetPtesMarkKey), kernelRangeSync = Bool(config, KernelRangeSyncKey);
        if (era == UmlEra.Pre2024 && !(setPtesMark && kernelRangeSync))
            throw new InvalidOperationException(
                $"uml options '{SetPtesMarkKey}' and '{KernelRangeSyncKey}' apply to the 2024 era only: before it set_ptes kept no sync range and flush_tlb_kernel_range always synced");
        return new UmlOptions(era, setPtesMark, kernelRangeSync);
    }

    private static bool Bool(IConfiguration config, string key) => config[key] switch
    {
        null => true,
        var v when bool.TryParse(v, out bool b) => b,
        var v => throw new InvalidOperationException($"uml option '{key}' must be 'true' or 'false', not '{v}'"),
    };
}
