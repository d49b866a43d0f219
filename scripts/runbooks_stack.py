#!/usr/bin/env python3
"""Builds the runbooks stack: one AWS::SSM::Document per file in runbooks/, and the role
Automation assumes to run them. Prints the CloudFormation template (JSON) on stdout.

The runbooks live in their own stack because they are deployed once per account and change
rarely, and because the local emulator rejects any stack that contains AWS::SSM::Document.

usage: runbooks_stack.py > runbooks.json
       aws cloudformation deploy --template-file runbooks.json --stack-name incident-loop-runbooks \\
           --capabilities CAPABILITY_NAMED_IAM
"""
import glob
import json
import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Exactly the API calls the runbooks make, and nothing else.
ACTIONS = [
    "arc-zonal-shift:StartZonalShift",
    "arc-zonal-shift:ListZonalShifts",
    "lambda:UpdateAlias",
    "lambda:GetAlias",
    "ecs:UpdateService",
    "ecs:DescribeServices",
    "ecs:ListTasks",
    "ecs:StopTask",
    "ecs:TagResource",
    "codedeploy:StopDeployment",
    "codedeploy:GetDeployment",
    "cloudformation:CancelUpdateStack",
    "cloudformation:DescribeStacks",
    "ssm:GetParameter",
    "ssm:PutParameter",
]


def main() -> None:
    resources = {
        "IncidentLoopRunbookRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": {"Fn::Sub": "${AWS::StackName}-automation"},
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": {"Service": "ssm.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                    }],
                },
                "Policies": [{
                    "PolicyName": "incident-loop-runbooks",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        # The runbooks act on the user's own resources, which this stack cannot
                        # name; every run is approved by a catalog approver first.
                        "Statement": [{"Effect": "Allow", "Action": ACTIONS, "Resource": "*"}],
                    },
                }],
            },
        }
    }
    outputs = {"RunbookRoleArn": {"Value": {"Fn::GetAtt": ["IncidentLoopRunbookRole", "Arn"]}}}
    for path in sorted(glob.glob(os.path.join(ROOT, "runbooks", "*.yaml"))):
        name = os.path.splitext(os.path.basename(path))[0]
        logical = name.replace("-", "")
        with open(path) as f:
            content = yaml.safe_load(f)
        resources[logical] = {
            "Type": "AWS::SSM::Document",
            "Properties": {
                "Name": name,
                "DocumentType": "Automation",
                "DocumentFormat": "YAML",
                "UpdateMethod": "NewVersion",
                "Content": content,
            },
        }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "incident-loop mitigation runbooks (SSM Automation) and the role they run as.",
        "Resources": resources,
        "Outputs": outputs,
    }
    print(json.dumps(template, indent=1))


if __name__ == "__main__":
    main()
