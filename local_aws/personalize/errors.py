"""AWS-shaped service errors; the protocol layer turns them into HTTP responses."""


class ServiceError(Exception):
    """An error the client should see as ``__type`` plus ``message``."""

    code = "ServiceError"
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(ServiceError):
    code = "InvalidInputException"


class ResourceNotFound(ServiceError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExists(ServiceError):
    code = "ResourceAlreadyExistsException"

    def __init__(self, arn: str):
        super().__init__(f"Another resource with Arn {arn} already exists.")


class ResourceInUse(ServiceError):
    code = "ResourceInUseException"


class LimitExceeded(ServiceError):
    code = "LimitExceededException"


class InvalidNextToken(ServiceError):
    code = "InvalidNextTokenException"


class NotImplementedOperation(ServiceError):
    code = "NotImplemented"
    status = 501


class UnknownOperation(ServiceError):
    code = "UnknownOperationException"


class JobFailure(Exception):
    """Raised by background work; its text becomes the resource's failureReason."""


class TooManyTags(ServiceError):
    code = "TooManyTagsException"
