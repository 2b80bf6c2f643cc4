// Where `pv` finds plugins.json when --config is not given, in this order: the current directory; the root of the
// Pv repository above it (the nearest folder holding Pv.sln), so commands work from any subfolder; the user's config
// directory ($XDG_CONFIG_HOME/pv, else ~/.config/pv); and last the plugins.json beside pv itself, which only the
// installed tool (pvsim) carries, with its built-in plugins. The directories are parameters, not read here, so tests
// choose them; ForProcess reads them from the process. Every "not found" message lists the same places, in order.
using Pv.Scenarios.Running;

namespace Pv.Cli;

/// <summary>Finds the default plugins.json (and, from the same places, the default zoo).</summary>
/// <param name="currentDirectory">The folder pv runs in.</param>
/// <param name="userConfigDirectory">The user's pv config folder (<c>~/.config/pv</c>), or null if there is no home.</param>
/// <param name="toolDirectory">The folder of the running pv (where the tool's own plugins.json and zoo are).</param>
internal sealed class ConfigLocator(string currentDirectory, string? userConfigDirectory, string toolDirectory)
{
    /// <summary>The file name looked for.</summary>
    public const string FileName = "plugins.json";

    /// <summary>The folder pv runs in.</summary>
    public string CurrentDirectory { get; } = currentDirectory;

    /// <summary>The user's pv config folder, or null.</summary>
    public string? UserConfigDirectory { get; } = userConfigDirectory;

    /// <summary>The folder of the running pv.</summary>
    public string ToolDirectory { get; } = toolDirectory;

    /// <summary>The locator of this process: its user config folder from the environment, the tool's folder from pv's own.</summary>
    public static ConfigLocator ForProcess(string currentDirectory) =>
        new(currentDirectory,
            UserConfigDirectoryOf(Environment.GetEnvironmentVariable("XDG_CONFIG_HOME"), Environment.GetFolderPath(Environment.SpecialFolder.UserProfile)),
            AppContext.BaseDirectory);

    /// <summary>
    /// <c>$XDG_CONFIG_HOME/pv</c>, else <c>HOME/.config/pv</c>; null without either. A relative XDG_CONFIG_HOME is
    /// ignored, as the XDG base directory specification says.
    /// </summary>
    public static string? UserConfigDirectoryOf(string? xdgConfigHome, string? home) =>
        !string.IsNullOrEmpty(xdgConfigHome) && Path.IsPathRooted(xdgConfigHome) ? Path.Combine(xdgConfigHome, "pv")
        : !string.IsNullOrEmpty(home) ? Path.Combine(home, ".config", "pv")
        : null;

    /// <summary>The root of the Pv repository holding the current directory (the nearest folder with Pv.sln), or null.</summary>
    public string? RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(CurrentDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Pv.sln"))) return dir.FullName;
            return null;
        }
    }

    /// <summary>The plugins.json files looked for, in order (the repository's only when in one).</summary>
    public IReadOnlyList<string> Candidates =>
        [.. new[] { CurrentDirectory, RepositoryRoot, UserConfigDirectory, ToolDirectory }.OfType<string>().Select(d => Path.Combine(d, FileName)).Distinct()];

    /// <summary>The default plugins.json: the first of <see cref="Candidates"/> that exists, or null.</summary>
    public string? Find() => Candidates.FirstOrDefault(File.Exists);

    /// <summary>Where <see cref="Find"/> looked, for a message: "./plugins.json, the Pv repository above it, ...".</summary>
    public string Places()
    {
        var places = new List<string> { Path.Combine(CurrentDirectory, FileName) };
        places.Add(RepositoryRoot is { } root ? Path.Combine(root, FileName) : "the root of a Pv repository above it (none)");
        if (UserConfigDirectory is { } user) places.Add(Path.Combine(user, FileName));
        places.Add(Path.Combine(ToolDirectory, FileName));
        return string.Join(", ", places.Distinct());
    }

    /// <summary>The message for no plugins.json found: every place looked in, and the way out.</summary>
    public string NotFound() => $"no plugins.json found; looked for {Places()}; pass --config FILE";

    /// <summary>
    /// The zoos looked for when --dir is not given, in order: scenarios/zoo beside the plugins.json in use (a Pv
    /// repository's, or the tool's), the repository's the current directory is in, the copy that travels with pv.
    /// </summary>
    public IReadOnlyList<string> ZooCandidates(Pv.Hosting.PluginCatalog catalog) =>
        [.. new[] { RepositoryRoot, ToolDirectory }.OfType<string>().Select(d => Path.Combine(d, "scenarios", "zoo")).Prepend(Zoo.DefaultFolder(catalog)).Distinct()];
}
