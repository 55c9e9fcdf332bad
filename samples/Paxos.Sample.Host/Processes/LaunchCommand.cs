using System.Runtime.InteropServices;

namespace Paxos.Sample.Processes;

/// <summary>How to start a replica process: a program and the arguments that come before the replica's own.</summary>
internal sealed record LaunchCommand(string FileName, IReadOnlyList<string> Prefix)
{
    /// <summary>This very program: its own executable when it has one (the app host), else <c>dotnet</c> with the path
    /// of this assembly (as under <c>dotnet Paxos.Sample.Host.dll</c>).</summary>
    public static LaunchCommand ForThisProgram()
    {
        var path = Environment.ProcessPath;
        return path is not null && !IsDotnetHost(path) ? new LaunchCommand(path, []) : ForAssembly(typeof(LaunchCommand).Assembly.Location);
    }

    /// <summary>The sample host as another program starts it: <c>dotnet path/to/Paxos.Sample.Host.dll</c>, with the
    /// <c>dotnet</c> that runs this process.</summary>
    public static LaunchCommand ForAssembly(string assemblyPath)
    {
        if (!File.Exists(assemblyPath))
        {
            throw new FileNotFoundException($"The sample host is not at {assemblyPath}; build it first.", assemblyPath);
        }

        return new LaunchCommand(DotnetHost(), [assemblyPath]);
    }

    public override string ToString() => string.Join(' ', [FileName, .. Prefix]);

    private static bool IsDotnetHost(string path) =>
        string.Equals(Path.GetFileNameWithoutExtension(path), "dotnet", StringComparison.OrdinalIgnoreCase);

    /// <summary>The <c>dotnet</c> muxer: this process itself if it is one; what the SDK says (<c>DOTNET_HOST_PATH</c>);
    /// the one above the running runtime's directory (<c>…/dotnet/shared/Microsoft.NETCore.App/10.0.x/</c>); or
    /// whatever <c>dotnet</c> the PATH finds.</summary>
    private static string DotnetHost()
    {
        if (Environment.ProcessPath is { } self && IsDotnetHost(self))
        {
            return self;
        }

        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } fromSdk && File.Exists(fromSdk))
        {
            return fromSdk;
        }

        var name = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        var runtime = RuntimeEnvironment.GetRuntimeDirectory();
        var root = Path.GetFullPath(Path.Combine(runtime, "..", "..", ".."));
        var candidate = Path.Combine(root, name);
        return File.Exists(candidate) ? candidate : name;
    }
}
