// The SMMU plugin's entry: one backend for the arm64 arch profile. It provides only an ISecondaryMmu (a
// secondary-MMU backend composed next to a CPU arch backend on the same machine), with its era and hardware
// features bound from the backend's options and its command-queue costs declared.
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Pv.Abstractions.Notifiers;
using Pv.Abstractions.Plugins;

namespace Pv.Plugins.Smmu;

/// <summary>ARM SMMUv3 SVA.</summary>
public sealed class SmmuPlugin : IPvPlugin
{
    /// <inheritdoc/>
    public string Name => "smmu";

    /// <inheritdoc/>
    public Version Version { get; } = new(0, 1, 0);

    /// <inheritdoc/>
    public IReadOnlyList<PvBackendInfo> Backends { get; } =
    [
        new("arm64", "ARM SMMUv3 SVA: a device TLB and ATC over the CPU page table, kept coherent by mmu notifiers", SmmuOptions.Declared)
        {
            Costs = SmmuOptions.Costs,
        },
    ];

    /// <inheritdoc/>
    public void Register(IServiceCollection services, IConfiguration options)
    {
        // The binder converts the values (the host reports one it cannot, at the option in plugins.json).
        services.AddOptions<SmmuOptions>().Bind(options).ValidateOnStart();
        // The scan registered ArmSmmuV3 once per interface; the machine has one SMMU behind both.
        services.AddScoped<ArmSmmuV3>();
        services.Replace(ServiceDescriptor.Scoped<ISecondaryMmu>(sp => sp.GetRequiredService<ArmSmmuV3>()));
        services.Replace(ServiceDescriptor.Scoped<IMmuNotifier>(sp => sp.GetRequiredService<ArmSmmuV3>()));
    }
}
