// The User-Mode Linux plugin: one backend, arch profile "uml", whose TLB is the host mappings of each mm's
// host process, kept in line by deferred (v6.11+) or eager (earlier) sync. Options choose the era and can
// drop one of the deferred scheme's marks to reproduce Z4.
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Pv.Abstractions.Plugins;

namespace Pv.Plugins.Uml;

/// <summary>The plugin's entry type.</summary>
public sealed class UmlPlugin : IPvPlugin
{
    /// <summary>The arch profile this plugin offers.</summary>
    public const string ArchProfile = "uml";

    /// <inheritdoc/>
    public string Name => "uml";

    /// <inheritdoc/>
    public Version Version { get; } = new(1, 0, 0);

    /// <inheritdoc/>
    public IReadOnlyList<PvBackendInfo> Backends { get; } =
        [new(ArchProfile, "User-Mode Linux: host mmap/munmap as the TLB, synced at resume and kernel SEGV", UmlOptions.Declared) { Mmu = PvMmuModel.HostMappings }];

    /// <summary>Binds and validates the options and registers the one UmlTlb that the arch and pv ops of a machine share.</summary>
    public void Register(IServiceCollection services, IConfiguration options)
    {
        services.AddOptions<UmlOptions>().Bind(options).ValidateOnStart();
        services.AddSingleton<IValidateOptions<UmlOptions>, UmlOptions.Validator>();
        services.AddScoped<UmlTlb>();
    }
}
