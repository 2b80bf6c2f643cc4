// The contract's own version. The host compares a plugin's reference to Pv.Abstractions against this:
// a newer minor or another major is refused, so there is never a silent second copy of the contract.
namespace Pv.Abstractions;

/// <summary>Version information of the plugin contract (this assembly).</summary>
public static class PvContract
{
    /// <summary>
    /// The contract version this assembly implements. Equal to the assembly version of Pv.Abstractions.
    /// A plugin compiled against a higher minor version, or against another major version, is refused.
    /// </summary>
    public static Version Version { get; } = typeof(PvContract).Assembly.GetName().Version!;

    /// <summary>Name of the contract assembly, as it appears in a plugin's assembly references.</summary>
    public const string AssemblyName = "Pv.Abstractions";
}
