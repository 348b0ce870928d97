# The SDK layer on an aspnet image: the SDK of the machine's .NET installation.
FROM {{parent}}
ENV DOTNET_SDK_VERSION={{sdk_version}} \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_NOLOGO=1
COPY rootfs/ /
