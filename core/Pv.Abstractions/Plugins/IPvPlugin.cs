// The one entry type of a plugin assembly. The host finds exactly one public, non-abstract class
// implementing this interface with a public parameterless constructor; zero or two is an error.
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Pv.Abstractions.Plugins;

/// <summary>
/// Entry point of a Pv plugin assembly. A plugin offers one or more backends, each for one arch
/// profile (for example <c>x86</c> or <c>arm64</c>). The host composes each backend once: it registers the
/// engine's host services, scans the plugin assembly for the contract implementations marked for the chosen
/// arch profile (see <see cref="PvArchAttribute"/>), then calls <see cref="Register"/> so the plugin can add
/// or replace services and bind its options. Every simulated machine is then one DI scope of that backend's
/// provider.
/// <para>Lifetimes. The host services (<c>ICpus</c>, <c>IIpi</c>, <c>IMetrics</c>, <c>ICost</c>, ...) are scoped:
/// each scope's are its own machine's. The scan registers every contract implementation (<c>IPvMmuOps</c>,
/// <c>IArchMmu</c>, <c>ISecondaryMmu</c>, <c>IMmuNotifier</c>) as scoped, so each machine gets its own objects.
/// Register anything that holds a machine's state or asks for a host service with <c>AddScoped</c>. A singleton
/// (<c>AddSingleton</c>) is one object shared by every machine of the backend, possibly on several threads: use
/// it only for immutable data such as an options record. The host refuses a contract implementation registered
/// as a singleton, and validation refuses a singleton that asks for a scoped service.</para>
/// </summary>
public interface IPvPlugin
{
    /// <summary>Short, unique name of the plugin, for example <c>native</c> or <c>xen</c>.</summary>
    string Name { get; }

    /// <summary>Version of the plugin itself (not of the contract).</summary>
    Version Version { get; }

    /// <summary>The backends (arch profiles) this plugin can provide.</summary>
    IReadOnlyList<PvBackendInfo> Backends { get; }

    /// <summary>
    /// Adds the plugin's services for one backend. Called once per backend (not per machine), after the host's scan
    /// of this assembly, so a registration made here overrides the scanned one. See the lifetimes above.
    /// </summary>
    /// <remarks>
    /// Bind the options with the Options pattern and let the host validate them when the backend is composed:
    /// <c>services.AddOptions&lt;MyOptions&gt;().Bind(options).ValidateOnStart()</c> and an
    /// <c>IValidateOptions&lt;MyOptions&gt;</c> (Microsoft.Extensions.Options is shared with the host, so its
    /// <c>IStartupValidator</c> is the host's). The binder converts values (a boolean is <c>true</c> or
    /// <c>false</c>); the host turns a conversion error or a validation failure into a diagnostic at the option in
    /// plugins.json, with the value found. A failure message names its option key in single quotes
    /// (<c>'era'</c>) so the host can point at it; without one it points at the backend.
    /// </remarks>
    /// <param name="services">The backend's service collection; host services and the scanned classes are already in it.</param>
    /// <param name="options">
    /// The backend's <c>options</c> section from plugins.json, merged over the plugin's <c>options</c>.
    /// The key <c>archProfile</c> holds the chosen arch profile. Keys not declared in
    /// <see cref="PvBackendInfo.Options"/>, and values a declared option lists in
    /// <see cref="PvOptionInfo.RenamedValues"/>, are rejected by the host before this is called.
    /// </param>
    void Register(IServiceCollection services, IConfiguration options);
}

/// <summary>One backend a plugin offers: an arch profile, the options it understands and the costs it declares.</summary>
/// <param name="ArchProfile">The arch profile name, for example <c>x86</c>; plugins.json refers to it.</param>
/// <param name="Description">One line for <c>pv plugins</c>.</param>
/// <param name="Options">The option keys this backend accepts (camelCase), with their meaning and default.</param>
public sealed record PvBackendInfo(string ArchProfile, string Description, IReadOnlyList<PvOptionInfo> Options)
{
    /// <summary>A backend with no options.</summary>
    public PvBackendInfo(string archProfile, string description) : this(archProfile, description, []) { }

    /// <summary>
    /// The costs of this backend's own mechanisms, which the engine's <see cref="Host.CostModel"/> does not know: a
    /// <c>cost</c> section in plugins.json or a scenario's <c>cost</c> line may set them next to the engine's keys,
    /// and the backend reads the values in force through <see cref="Host.ICost.Value"/>.
    /// </summary>
    public IReadOnlyList<PvCostInfo> Costs { get; init; } = [];

    /// <summary>
    /// How the CPUs of a machine running this backend translate (since contract 2.1): through page tables a hardware
    /// MMU walks into a TLB (the default), or through mappings of a host process that the backend keeps in sync, as
    /// User-Mode Linux does. It is the model of every scenario bound to this backend (a scenario's <c>mmu</c> line is
    /// optional and may only agree), and a scenario with a line only the other model can run is refused when bound: a
    /// kernel built for one never runs on the other, so what such a run found would not be a bug.
    /// </summary>
    public PvMmuModel Mmu { get; init; } = PvMmuModel.Hardware;
}

/// <summary>How a backend's CPUs translate virtual addresses.</summary>
public enum PvMmuModel
{
    /// <summary>A hardware MMU walks the page tables and caches translations in a TLB and walk cache.</summary>
    Hardware,
    /// <summary>A host process's mappings are the TLB (User-Mode Linux): the backend syncs them with the page tables.</summary>
    HostMappings,
}

/// <summary>One option key a backend accepts (an era or fix toggle, a size).</summary>
/// <param name="Key">The key in plugins.json <c>options</c>, camelCase.</param>
/// <param name="Description">What the option changes, in kernel terms.</param>
/// <param name="Default">The value used when the key is absent, as text.</param>
public sealed record PvOptionInfo(string Key, string Description, string Default)
{
    /// <summary>
    /// Values this option no longer accepts, each with the value that replaced it (an era once written
    /// <c>pre-6.6</c> is now the kernel version <c>6.5</c>). The host refuses an old value, naming the new one.
    /// </summary>
    public IReadOnlyDictionary<string, string> RenamedValues { get; init; } = new Dictionary<string, string>();
}

/// <summary>One cost a backend declares: a figure of its own mechanism that a run may override.</summary>
/// <param name="Key">The key in a <c>cost</c> section or a scenario's <c>cost</c> line, camelCase.</param>
/// <param name="Description">What is charged or bounded, in kernel terms.</param>
/// <param name="Unit">What the value counts: <c>ns</c> (simulated nanoseconds) or <c>pages</c>, for example.</param>
/// <param name="Default">The value used when nothing overrides it; non-negative.</param>
public sealed record PvCostInfo(string Key, string Description, string Unit, long Default);

/// <summary>
/// Marks a contract implementation in a plugin assembly as belonging to the named arch profiles. The host's
/// scan registers a class only for a backend whose arch profile is listed; an unmarked class is registered
/// for every arch profile of the plugin.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class PvArchAttribute(params string[] archProfiles) : Attribute
{
    /// <summary>The arch profiles this class serves.</summary>
    public IReadOnlyList<string> ArchProfiles { get; } = archProfiles;
}
