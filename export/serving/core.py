"""Model loading, version discovery and polling for the TF-Serving-compatible server.

Reproduces what `tensorflow_model_server` does with a model base path (reference §1.8):
numeric child directories are versions (`absl::SimpleAtoi`: "01" is 1, "v1" is ignored),
the version policy picks the aspired versions (default: the highest one), a new version is
loaded before the old one is unloaded, a failed load leaves the old version serving and
shows up in GetModelStatus as END with the error, and `Latest(name)` is the highest version
that is AVAILABLE. Nothing here knows about gRPC except the status codes.
"""

import logging
import os
import re
import threading

import grpc
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tf-text ops before any load)
from google.protobuf import text_format
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.config import model_server_config_pb2

# absl::SimpleAtoi: optional surrounding whitespace and sign, digits only.
_VERSION_RE = re.compile(r"^\s*[+-]?\d+\s*$")
_MESSAGE_LIMIT = 1024

_State = get_model_status_pb2.ModelVersionStatus.State


class ServingError(Exception):
    """An error answered to the client with a gRPC status code, as the real server does."""

    def __init__(self, code, message):
        if len(message) > _MESSAGE_LIMIT:
            message = message[:_MESSAGE_LIMIT] + "...TRUNCATED"
        super().__init__(message)
        self.code = code
        self.message = message


def list_versions(base_path):
    """Returns {version: directory} for the numeric children of `base_path`.

    Raises:
      ServingError: INVALID_ARGUMENT when `base_path` does not exist (as the real poll does).
    """
    if not tf.io.gfile.isdir(base_path):
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT, f"Could not find base path {base_path} for servable"
        )
    versions = {}
    for child in sorted(tf.io.gfile.listdir(base_path)):
        child = child.rstrip("/")
        if not _VERSION_RE.match(child):
            continue
        version = int(child.strip())
        if version in versions:
            logging.warning(
                "Duplicate version %d under %s; keeping %s", version, base_path, versions[version]
            )
            continue
        versions[version] = os.path.join(base_path, child)
    return versions


def aspired_versions(policy, on_disk):
    """Applies a `ServableVersionPolicy` (latest N, all, specific) to the versions on disk."""
    which = policy.WhichOneof("policy_choice")
    if which == "all":
        return set(on_disk)
    if which == "specific":
        return set(policy.specific.versions) & set(on_disk)
    num_versions = max(policy.latest.num_versions, 1) if which == "latest" else 1
    return set(sorted(on_disk)[-num_versions:])


class Servable:
    """One loaded version of one model, run as `tensorflow_model_server` runs it: the
    MetaGraph loaded into its own `Session` (SavedModelBundle), each signature one
    `Session::Run` of its input and output tensors.

    A session run costs less than calling the TF2 signature function (no Python-side
    structuring of inputs), and the session carries the server's threading settings.

    Attributes:
      name: model name.
      version: int version.
      path: the version directory.
      signature_defs: {key: SignatureDef} of the loaded MetaGraph.
    """

    def __init__(self, name, version, path, tags=("serve",), session_config=None):
        self.name = name
        self.version = version
        self.path = path
        graph = tf.Graph()
        # Closed when the last in-flight request lets go of this servable (Session.__del__).
        self._session = tf.compat.v1.Session(graph=graph, config=session_config)
        logger, level = tf.get_logger(), tf.get_logger().level
        logger.setLevel("ERROR")  # the v1 loader's deprecation notice; the server means it
        try:
            with graph.as_default():
                meta_graph = tf.compat.v1.saved_model.loader.load(self._session, list(tags), path)
        except RuntimeError as e:
            if "could not be found in SavedModel" not in str(e):
                raise
            raise ServingError(
                grpc.StatusCode.NOT_FOUND,
                "Could not find meta graph def matching supplied tags: "
                f"{{ {', '.join(tags)} }}. To inspect available tag-sets in the SavedModel, "
                "please use the SavedModel CLI: `saved_model_cli`",
            ) from None
        except OSError as e:  # no saved_model.pb(txt), or one that does not parse
            raise ServingError(grpc.StatusCode.NOT_FOUND, str(e)) from None
        finally:
            logger.setLevel(level)
        self.signature_defs = dict(meta_graph.signature_def)
        self._runs = {}  # signature key -> (input aliases, output aliases, session callable)

    def _callable(self, signature_name):
        run = self._runs.get(signature_name)
        if run is None:
            signature = self.signature_defs[signature_name]
            inputs, outputs = sorted(signature.inputs), sorted(signature.outputs)
            run = self._runs[signature_name] = (
                inputs,
                outputs,
                self._session.make_callable(
                    [signature.outputs[alias].name for alias in outputs],
                    [signature.inputs[alias].name for alias in inputs],
                ),
            )
        return run

    def run(self, signature_name, feeds):
        """Runs a signature on {alias: numpy array}; returns {alias: numpy array}. A failing
        op raises ServingError with the op's status code."""
        inputs, outputs, session_run = self._callable(signature_name)
        try:
            return dict(zip(outputs, session_run(*[feeds[alias] for alias in inputs])))
        except tf.errors.OpError as e:
            raise ServingError(grpc_code(e), e.message) from e


def parse_model_config_file(path):
    """Parses a text-format ModelServerConfig (`--model_config_file`)."""
    config = model_server_config_pb2.ModelServerConfig()
    with open(path) as f:
        text_format.Parse(f.read(), config)
    return config


def single_model_config(model_name, model_base_path):
    """The config `--model_name`/`--model_base_path` stand for."""
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = model_name
    model.base_path = os.path.abspath(model_base_path)
    model.model_platform = "tensorflow"
    return config


def validate_config(config):
    """Checks a ModelServerConfig as ServerCore does; raises ServingError."""
    if config.WhichOneof("config") != "model_config_list":
        raise ServingError(
            grpc.StatusCode.INVALID_ARGUMENT,
            "ServerModelConfig type not supported by HandleReloadConfigRequest."
            " Only ModelConfigList is currently supported",
        )
    seen = set()
    for model in config.model_config_list.config:
        if model.name in seen:
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Illegal to list model {model.name} multiple times in config list",
            )
        seen.add(model.name)
        if not (os.path.isabs(model.base_path) or "://" in model.base_path):
            raise ServingError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected model {model.name} to have an absolute path or URI; got "
                f"base_path()={model.base_path}",
            )


class ModelManager:
    """Holds the configured models, loads/unloads versions, answers servable lookups.

    Args:
      config: ModelServerConfig with a `model_config_list`.
      poll_wait_seconds: seconds between file-system polls; 0 polls once at start, < 0 never
        polls after start (the `--file_system_poll_wait_seconds` semantics).
      audit_fn: optional callable(version_dir) -> list of missing op names; a non-empty list
        fails that version's load.
      warmup_fn: optional callable(servable) run after a version loads and before it is
        AVAILABLE (warm-up replay); a ServingError fails that version's load.
      tags: MetaGraph tags to load (`--saved_model_tags`).
      session_config: tf.compat.v1.ConfigProto of every version's Session (threading).
    """

    def __init__(
        self,
        config,
        poll_wait_seconds=1.0,
        audit_fn=None,
        tags=("serve",),
        session_config=None,
        warmup_fn=None,
    ):
        validate_config(config)
        self._config = config
        self._poll_wait_seconds = poll_wait_seconds
        self._audit_fn = audit_fn
        self._warmup_fn = warmup_fn
        self._tags = tuple(tags)
        self._session_config = session_config
        self._lock = threading.RLock()
        self._poll_lock = threading.Lock()
        self._servables = {}  # name -> {version: Servable}
        self._states = {}  # name -> {version: (state, grpc code, message)}
        self._failed = {}  # name -> {version: path} that failed; not retried
        self._stop = threading.Event()
        self._thread = None

    # === Lifecycle ===

    def start(self):
        """Polls once synchronously and fails fast if an initial version does not load."""
        self.poll_once()
        errors = []
        for model in self._config.model_config_list.config:
            for version, (state, code, message) in sorted(self._states.get(model.name, {}).items()):
                if (
                    state == _State.END
                    and code != grpc.StatusCode.OK
                    and not self._available(model.name)
                ):
                    errors.append(f"{{{{{model.name}, {version}}} due to error: {message}}}, ")
        if errors:
            raise ServingError(
                grpc.StatusCode.UNKNOWN,
                f"{len(errors)} servable(s) did not become available: {{{''.join(errors)}}}",
            )
        if self._poll_wait_seconds > 0:
            self._thread = threading.Thread(
                target=self._poll_loop, name="version-poll", daemon=True
            )
            self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _poll_loop(self):
        while not self._stop.wait(self._poll_wait_seconds):
            try:
                self.poll_once()
            except Exception:  # A bad poll must never take the server down.
                logging.exception("Version poll failed")

    # === Polling ===

    def poll_once(self):
        """Brings every configured model in line with its base path and version policy."""
        with self._poll_lock:
            configured = {m.name: m for m in self._config.model_config_list.config}
            for name in list(self._servables):
                if name not in configured:  # Dropped from the config: unload everything.
                    for version in list(self._servables[name]):
                        self._unload(name, version)
            for model in configured.values():
                self._poll_model(model)

    def _poll_model(self, model):
        try:
            on_disk = list_versions(model.base_path)
        except ServingError as e:
            logging.error("%s", e.message)
            on_disk = {}
        if not on_disk:
            logging.warning(
                "No versions of servable %s found under base path %s. Did you forget to "
                "name your leaf directory as a number (eg. '/1/')?",
                model.name,
                model.base_path,
            )
        aspired = aspired_versions(model.model_version_policy, on_disk)
        loaded = self._servables.get(model.name, {})
        failed = self._failed.setdefault(model.name, {})
        for version in sorted(aspired - set(loaded)):
            if failed.get(version) == on_disk[version]:
                continue
            self._load(model.name, version, on_disk[version])
        loaded = self._servables.get(model.name, {})
        any_aspired_available = bool(aspired & set(loaded))
        for version in sorted(set(loaded) - aspired):
            # Availability preserving: keep an old version until a new one serves, unless its
            # directory is gone.
            if any_aspired_available or version not in on_disk:
                self._unload(model.name, version)

    def _load(self, name, version, path):
        self._set_state(name, version, _State.LOADING)
        logging.info("Loading servable: {name: %s version: %d} from %s", name, version, path)
        try:
            if self._audit_fn is not None:
                missing = self._audit_fn(path)
                if missing:
                    raise ServingError(
                        grpc.StatusCode.NOT_FOUND,
                        f"Op type not registered '{missing[0]}' in binary running "
                        f"tensorflow_model_server (op audit of {path}: missing ops "
                        f"{', '.join(missing)}). Start the server with --skip_op_audit "
                        "to load it anyway.",
                    )
            servable = Servable(name, version, path, self._tags, self._session_config)
            if self._warmup_fn is not None:
                self._warmup_fn(servable)
        except Exception as e:  # Any load error becomes the version's status.
            code = getattr(e, "code", None)
            if not isinstance(code, grpc.StatusCode):
                code = grpc_code(e)
            message = getattr(e, "message", None) or str(e)
            logging.error(
                "Loading servable: {name: %s version: %d} failed: %s", name, version, message
            )
            self._failed.setdefault(name, {})[version] = path
            self._set_state(name, version, _State.END, code, message)
            return
        with self._lock:
            self._servables.setdefault(name, {})[version] = servable
        self._set_state(name, version, _State.AVAILABLE)
        logging.info("Successfully loaded servable version {name: %s version: %d}", name, version)

    def _unload(self, name, version):
        self._set_state(name, version, _State.UNLOADING)
        with self._lock:
            self._servables.get(name, {}).pop(version, None)
        self._set_state(name, version, _State.END)
        logging.info("Unloaded servable version {name: %s version: %d}", name, version)

    def _set_state(self, name, version, state, code=grpc.StatusCode.OK, message=""):
        with self._lock:
            self._states.setdefault(name, {})[version] = (state, code, message)

    def _available(self, name):
        with self._lock:
            return bool(self._servables.get(name))

    # === Lookups ===

    def resolve(self, model_spec):
        """Returns the Servable a ModelSpec names (server_core.cc ServableRequestFromModelSpec)."""
        if not model_spec.name:
            raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "ModelSpec has no name specified.")
        name = model_spec.name
        which = model_spec.WhichOneof("version_choice")
        with self._lock:
            versions = self._servables.get(name, {})
            if which == "version_label":
                labels = self._labels(name)
                if model_spec.version_label not in labels:
                    raise ServingError(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"Unrecognized servable version label: {model_spec.version_label}",
                    )
                version = labels[model_spec.version_label]
                request = f"Specific({name}, {version})"
            elif which == "version":
                version = model_spec.version.value
                request = f"Specific({name}, {version})"
            else:
                version = max(versions) if versions else None
                request = f"Latest({name})"
            if version not in versions:
                raise ServingError(
                    grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {request}"
                )
            return versions[version]

    def _labels(self, name):
        for model in self._config.model_config_list.config:
            if model.name == name:
                return dict(model.version_labels)
        return {}

    def model_status(self, model_spec):
        """The GetModelStatusResponse for a ModelSpec (get_model_status_impl.cc)."""
        name = model_spec.name
        with self._lock:
            states = dict(self._states.get(name, {}))
        if model_spec.HasField("version"):
            version = model_spec.version.value
            if version not in states:
                raise ServingError(
                    grpc.StatusCode.NOT_FOUND, f"Could not find version {version} of model {name}"
                )
            states = {version: states[version]}
        elif not states:
            raise ServingError(
                grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {name}"
            )
        response = get_model_status_pb2.GetModelStatusResponse()
        for version, (state, code, message) in sorted(states.items(), reverse=True):
            status = response.model_version_status.add(version=version, state=state)
            status.status.error_code = code.value[0]
            status.status.error_message = message
        return response

    def reload_config(self, config):
        """Replaces the model list (HandleReloadConfigRequest) and polls at once."""
        validate_config(config)
        for model in config.model_config_list.config:
            for version in model.version_labels.values():
                loaded = self._servables.get(model.name, {})
                if version not in loaded:
                    raise ServingError(
                        grpc.StatusCode.FAILED_PRECONDITION,
                        f"Request to assign label to version {version} of model "
                        f"{model.name}, which is not currently available for inference",
                    )
        with self._poll_lock:
            self._config = config
        self.poll_once()


def grpc_code(error):
    """Maps a TF OpError (same numbering as gRPC) or any other exception to a gRPC code."""
    code = getattr(error, "error_code", None)
    for status in grpc.StatusCode:
        if code is not None and status.value[0] == code:
            return status
    return grpc.StatusCode.UNKNOWN
