// The bare-metal backends: x86 (TLB shootdown by IPIs the initiator waits for) and arm64 (broadcast TLBI,
// which interrupts nobody). What each guarantees follows from how its flush synchronises with lockless
// walkers (docs/model.md, the rule everything serves): a waited IPI cannot complete while a target has IRQs
// off, so x86 before 6.15 may free page tables right after the flush; a broadcast TLBI waits for nobody, so arm64 needs RCU table
// free. Both take the gather knobs of any arch profile (gatherProfile) so the knobs can be A/B tested alone
// on one flush mechanism.
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.Native;

/// <summary>Entry point of the native plugin.</summary>
public sealed class NativePlugin : IPvPlugin
{
    /// <inheritdoc/>
    public string Name => "native";

    /// <inheritdoc/>
    public Version Version { get; } = typeof(NativePlugin).Assembly.GetName().Version!;

    /// <inheritdoc/>
    public IReadOnlyList<PvBackendInfo> Backends { get; } =
    [
        new(NativeOptions.X86, "x86 bare metal: flush_tlb_multi by waited IPIs, lazy-TLB CPUs skipped unless tables were freed", NativeOptions.X86Options)
        {
            Costs = X86Costs.Declared,
        },
        new(NativeOptions.Arm64, "arm64 bare metal: broadcast TLBI, a flush per VMA, RCU table free", NativeOptions.Arm64Options)
        {
            Costs = NativeOptions.Arm64Costs,
        },
    ];

    /// <inheritdoc/>
    public void Register(IServiceCollection services, IConfiguration options)
    {
        services.AddOptions<NativeOptions>().Bind(options).ValidateOnStart();
        services.AddSingleton<IValidateOptions<NativeOptions>, NativeOptions.Validator>();
    }
}
