from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response


@api_view(["GET", "POST"])
@permission_classes([IsAuthenticated])
def dashboard(request):
    if request.method == "GET":
        return Response({"response": f"Hey{request.user.username}, you are seeing GET response"})
    return Response({"response": f"Hey{request.user.username}, your text is {request.data.get('text')}"})
